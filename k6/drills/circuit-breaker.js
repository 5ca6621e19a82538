// Drill circuit-breaker — toggle: PUT /admin/failure-modes/circuit-breaker (reproduce → contain; downSeconds,
// brownoutLatencyMs, brownoutErrorRate from the catalogue). Invariant: a dead or slow Payment costs the caller
// nothing — Ordering's own Payment breaker opens, short-circuits, probes sparingly, and the order is still accepted
// (201, or 202 PaymentPending as the fallback) fast; a Payment outage never opens the Inventory breaker; GET
// /admin/invariants reports total == 0 once the system has settled (pending orders get authorized by then).
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/circuit-breaker.js
//
// Timeline (spec ../shared/design/failure-modes.md §8, 50 rps, open model). Payment's fault is timed from the flip
// (the mode's "since"), so every fault phase replays it: hard down for downSeconds (20 s: 503 at once), then a
// brown-out (3 s latency, 30 % errors).
//   0 ────── 20 ─────────────────────────── 60 ─────────────────────────── 100 ──────────── 130 s
//   ◆ off     ◆ reproduce                    ◆ contain                      ◆ off
//   baseline  [down 20 s | brown-out 20 s ]  [down 20 s | brown-out 20 s ]  recovery (10 s transition)
//   stats     ▲+10 ▲+20 ▲+30 ▲end            ▲+10 ▲+20 ▲+30 ▲end            ▲+10 (closed?)  ▲end (reopened?)
//
// Breaker numbers come from GET /admin/stats, read per 10 s window by "sampler" scenarios (one iteration at the
// window's end; read, record, reset) and for the last window by the phase controller (onPhaseEnd):
//   Ordering "ordering" section, dependencies.payment.{requests, attempts, shortCircuited, breakerState, breakerOpened}
//     short_circuit_ratio = shortCircuited ÷ requests (logical calls, short-circuited ones included)
//   Ordering dependencies.inventory.{breakerState, breakerOpened}: the other dependency's breaker
//   Payment "payment" section, requests.{first, retry}: every call that reached Payment (probes, while open)
// Ordering's numbers are those of the replica behind ORDERING_URL (the AppHost runs one by default); a breaker is per
// replica, so its ratios hold per replica, and ORDERING_REPLICAS scales the fleet-wide probe allowance.
//
// Criteria (thresholds below):
//   reproduce → POST p99 ≥ 5 s, and Payment receives ~all attempts (nothing is short-circuited: ratio ≤ 5 %)
//   contain   → opens ≤ 10 s after the fault; while open (windows 2–4) ≥ 95 % of calls short-circuit and Payment sees
//               ≤ 1 probe per break duration per instance; POST p99 ≤ 300 ms with 0 × 5xx (201 or 202 only);
//               closes ≤ 10 s after recovery; no flapping (once closed at +10 s, it never opens again)
//   always    → a Payment outage never opens the Inventory breaker; dropped_iterations == 0; toggles applied;
//               invariants hold.
// Not judged here: "short-circuit in < 5 ms" is inside Ordering (a POST also writes the order); read the
// reliableshop.ordering.breaker.* metrics on the dashboard for it.
// Environment: RATE=50, BREAK_SECONDS=5 (Resilience:Payment:BreakDuration), ORDERING_REPLICAS=1, plus the variables of
// k6/README.md. Doc: k6/README.md
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { ORDERING_REPLICAS, backlogSettleSeconds, envNumber, requireAdminKey } from '../lib/config.js';
import { readStats, resetStats } from '../lib/admin.js';
import { placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios, standardPhases } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const MODE = 'circuit-breaker';
const RATE = envNumber('RATE', 50);
if (!Number.isInteger(RATE)) throw new Error(`RATE=${RATE} must be a whole number of orders per second`);
const BREAK_SECONDS = envNumber('BREAK_SECONDS', 5);
const DOWN_SECONDS = 20; // the catalogue default of downSeconds, passed explicitly below
const SLICE_SECONDS = 10;
const PROBES_PER_SLICE = Math.ceil(SLICE_SECONDS / BREAK_SECONDS) * ORDERING_REPLICAS; // "≤ 1 probe per break duration per instance"
const STATS_SERVICES = ['ordering', 'payment'];

const PHASES = standardPhases({ baseline: 20, reproduce: 40, contain: 40, recovery: 30 });
// Every contain order may be PaymentPending (the breaker open): the teardown waits for them at the authorize pace.
const SETTLE_SECONDS = backlogSettleSeconds(RATE * 40);
PHASES.forEach((p) => {
  if (p.state !== 'off') p.parameters = { downSeconds: DOWN_SECONDS };
});
let offset = 0;
const START = {}; // phase name → start second, as phasedScenarios lays them out
PHASES.forEach((p) => {
  START[p.name] = offset;
  offset += p.seconds;
});

/** Per window: short-circuited calls ÷ logical calls to Payment (Ordering's view). */
const shortCircuitRatio = new Trend('short_circuit_ratio');
/** Per window: requests Payment received (first attempts + retries, every operation); while open, only probes. */
const paymentCalls = new Trend('payment_calls');
/** One per window whose stats were read; guards the per-window thresholds against "no data". */
const statsWindows = new Counter('stats_windows');
/** contain, 10 s after the flip: the Payment breaker is open (or half-open, probing) or opened in that window. */
const breakerOpenWithin10s = new Rate('breaker_open_within_10s');
/** recovery, 10 s after the fault ended: the Payment breaker is closed. */
const breakerClosedWithin10s = new Rate('breaker_closed_within_10s');
/** recovery: times the Payment breaker opened after the fault ended (flapping). */
const breakerReopened = new Counter('breaker_reopened');
/** Every stats read: Ordering's Inventory breaker is closed and never opened. */
const inventoryBreakerClosed = new Rate('inventory_breaker_closed');
/** Per order: 201 (authorized) or 202 (PaymentPending, the fallback) — an accepted order. */
const orderSuccess = new Rate('order_success');
/** Per order: answered 5xx (or not at all): the fallback did not hold. */
const orderServerError = new Rate('order_server_error');

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function dependency(orderingDoc, name) {
  const deps = orderingDoc && orderingDoc.ordering && orderingDoc.ordering.dependencies;
  return deps ? deps[name] || null : null;
}

/** What one stats read says, with the window's tags: records the per-window metrics, returns the parsed numbers. */
function recordWindow(stats, tags) {
  const payment = dependency(stats.ordering, 'payment');
  const inventory = dependency(stats.ordering, 'inventory');
  const received = stats.payment && stats.payment.payment && stats.payment.payment.requests;
  if (!stats.ordering || !received) {
    console.error(`${JSON.stringify(tags)}: /admin/stats unreadable: no window sample`);
    return null;
  }
  // no entry yet = that client has not been called since Ordering started: its breaker cannot have opened
  inventoryBreakerClosed.add(!inventory || (inventory.breakerState === 'Closed' && num(inventory.breakerOpened) === 0), tags);
  const calls = num(received.first) + num(received.retry);
  paymentCalls.add(calls, tags);
  const requests = payment ? num(payment.requests) : 0;
  if (requests > 0) shortCircuitRatio.add(num(payment.shortCircuited) / requests, tags);
  statsWindows.add(1, tags);
  console.log(
    `${JSON.stringify(tags)}: Ordering→Payment ${payment ? JSON.stringify(payment) : 'no calls'}; ` +
      `Payment received ${calls}; Inventory breaker ${inventory ? inventory.breakerState : 'never called'}`,
  );
  return { payment, calls };
}

function sliceTags(phase, end) {
  const state = PHASES.find((p) => p.name === phase).state;
  if (state === 'off') return { phase, fault: 'none', slice: String(end / SLICE_SECONDS), open: 'no' };
  // windows 2–4 (from 10 s on) are where a contained breaker must be open: down until 20 s, then the brown-out
  return {
    phase,
    fault: end <= DOWN_SECONDS ? 'down' : 'brownout',
    slice: String(end / SLICE_SECONDS),
    open: state === 'contain' && end > SLICE_SECONDS ? 'yes' : 'no',
  };
}

// ---- samplers: fault phases at +10, +20, +30 s; recovery at +10 s (each: read, record, reset)

const SAMPLERS = {}; // scenario name → {phase, end, reset}; built in the init context of every VU
const samplerScenarios = {};
PHASES.forEach((p) => {
  const ends = p.state !== 'off' ? [10, 20, 30] : p.name === 'recovery' ? [10] : [];
  ends.forEach((end) => {
    const name = `stats_${p.name}_${end}s`;
    SAMPLERS[name] = { phase: p.name, end };
    samplerScenarios[name] = {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      startTime: `${START[p.name] + end}s`,
      maxDuration: '20s',
      exec: 'windowSampler',
      tags: { role: 'sampler' }, // no phase tag: its admin calls never count in a phase's numbers
    };
  });
});

/** The last window of each phase, read by the next phase's controller (or by teardown for recovery). */
function onPhaseEnd({ phase, state, stats }) {
  const p = PHASES.find((x) => x.name === phase);
  const read = recordWindow(stats, state === 'off' ? { phase, fault: 'none', slice: 'end', open: 'no' } : sliceTags(phase, p.seconds));
  if (phase === 'recovery') {
    // the recovery sampler reset the stats at +10 s, when the breaker had to be closed: any opening since is a flap
    // (a last brown-out probe failing just after the flip may reopen it once before +10 s; that is not flapping)
    breakerReopened.add(read && read.payment ? num(read.payment.breakerOpened) : 0, { phase });
  }
}

export function windowSampler() {
  const window = SAMPLERS[exec.scenario.name];
  if (!window) throw new Error(`scenario ${exec.scenario.name} is not a stats sampler`);
  const stats = {};
  STATS_SERVICES.forEach((service) => {
    stats[service] = readStats(service);
  });
  STATS_SERVICES.forEach(resetStats);
  const read = recordWindow(stats, sliceTags(window.phase, window.end));
  const payment = read ? read.payment : null;
  const state = payment ? payment.breakerState : null;
  if (window.phase === 'contain' && window.end === 10) {
    breakerOpenWithin10s.add(state === 'Open' || state === 'HalfOpen' || (payment !== null && num(payment.breakerOpened) > 0),
      { phase: window.phase });
  }
  if (window.phase === 'recovery' && window.end === 10) {
    breakerClosedWithin10s.add(state === 'Closed', { phase: window.phase });
  }
}

export const options = {
  scenarios: Object.assign(
    phasedScenarios({
      mode: MODE,
      phases: PHASES,
      services: STATS_SERVICES,
      workloads: { writes: { exec: 'writes', rate: RATE } },
      onPhaseEnd,
    }),
    samplerScenarios,
  ),
  thresholds: drillThresholds({
    // reproduce must SHOW the failure: without a breaker every call waits out timeout × attempts — POST p99 ≥ 5 s …
    [inPhase('order_latency', 'reproduce')]: ['p(99)>=5000'],
    // … and Payment receives ~all attempts: nothing is short-circuited
    'short_circuit_ratio{phase:reproduce}': ['max<=0.05'],
    'stats_windows{phase:reproduce}': ['count>=4'], // every window was read (no vacuous pass)

    // contain: the breaker opens ≤ 10 s after the fault
    'breaker_open_within_10s{phase:contain}': ['rate==1'],
    // … while open, ≥ 95 % of calls short-circuit …
    'short_circuit_ratio{phase:contain,open:yes}': ['min>=0.95'],
    // … and Payment sees ≤ 1 probe per break duration per instance (per 10 s window: ⌈10 / BREAK_SECONDS⌉ × replicas)
    'payment_calls{phase:contain,open:yes}': [`max<=${PROBES_PER_SLICE}`],
    'stats_windows{phase:contain,open:yes}': ['count>=3'],
    // … POST p99 ≤ 300 ms …
    [inPhase('order_latency', 'contain')]: ['p(99)<=300'],
    // … with 0 × 5xx: every order accepted, 201 or 202 PaymentPending (the fallback)
    [inPhase('order_server_error', 'contain')]: ['rate==0'],
    [inPhase('order_success', 'contain')]: ['rate==1'],
    // … closes ≤ 10 s after recovery …
    'breaker_closed_within_10s{phase:recovery}': ['rate==1'],
    // … and does not flap: no reopening once the fault is gone
    'breaker_reopened{phase:recovery}': ['count==0'],

    // a Payment outage never opens the Inventory breaker (every read, every phase)
    inventory_breaker_closed: ['rate==1'],
    // the healthy system accepts ~every order, and so does the recovered one (50 orders/s already keep Payment's
    // 100 charges/s busy: an authorize and a capture each, so a rare timeout is not a failure of this drill)
    [inPhase('order_success', 'baseline')]: ['rate>=0.99'],
    [inPhase('order_success', 'recovery')]: ['rate>=0.99'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: `${SETTLE_SECONDS + 60}s`, // close the phase, reset the modes, then the backlog's settle time
};

export function setup() {
  return drillSetup();
}

/** RATE orders/s whatever the answers; a 503 is counted by order_server_error, not hidden. */
export function writes() {
  const placed = placeOrder({ rejectionsExpected: true });
  const status = placed.res.status;
  orderSuccess.add(status === 201 || status === 202);
  orderServerError.add(status >= 500 || status === 0);
}

export function teardown() {
  drillTeardown({ settleSeconds: SETTLE_SECONDS }); // PaymentPending orders are authorized by a job, at its pace
}

const summary = drillSummary(MODE, {
  report: ['orders_offered', 'goodput', 'order_success', 'order_latency', 'short_circuit_ratio', 'payment_calls'],
});

export function handleSummary(data) {
  return summary(data);
}
