// Drill retry-budget — toggle: PUT /admin/failure-modes/retry-budget (reproduce → contain; outageSeconds,
// errorRateAfter, budgetPercent, minRetriesPerSecond from the catalogue). Invariant: fleet-wide retries stay within
// the budget when Payment is weakest (amplification ≤ 1.2 in every 10 s window of the outage) without losing the
// benefit of retries when failures are rare (≥ 99.5 % of orders authorized at 5 % errors); GET /admin/invariants
// reports total == 0 once the system has settled.
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/retry-budget.js
//
// Timeline (spec ../shared/design/failure-modes.md §3). Payment's fault is timed from the flip (the mode's "since"),
// so every fault phase replays it: 100 % fast 503s for outageSeconds (20 s), then errorRateAfter (5 %) random 503s.
//   0 ────── 20 ─────────────────────────── 60 ─────────────────────────── 100 ──────────── 130 s
//   ◆ off     ◆ reproduce                    ◆ contain                      ◆ off
//   baseline  [outage 20 s | errors 20 s ]   [outage 20 s | errors 20 s ]   recovery (10 s transition)
//   stats     ▲+10 ▲+20 ▲+30 ▲end            ▲+10 ▲+20 ▲+30 ▲end            ▲end
// Load is tagged phase:<phase>, fault:outage|errors and window:transition|steady (the first 2 s of the outage and
// 3 s of the errors part are transition: the flip propagates, the outage's end is a few ms after the 20th second).
//
// Retry amplification per 10 s window: a "sampler" scenario (one iteration, startTime = the window's end) reads
// GET /admin/stats of Payment and Ordering, records one retry_amplification sample tagged {phase, fault, slice}, then
// resets the stats for the next window. The last window of a phase is closed by the phase controller (onPhaseEnd).
//   Payment's "payment" section: requests.byOperation.authorize.{first,retry} (X-Attempt 1 vs > 1, on arrival)
//   amplification = (first + retry) ÷ first — Payment is one instance, so this holds for any number of Ordering replicas.
// In contain Ordering takes the budget-only path (the breaker stays out of it, so the budget's effect is what shows).
//
// Criteria (thresholds below):
//   outage (100 % failures) → reproduce amplification ≈ 4 (every window ≥ 3.5); contain ≤ 1.2 in every 10 s window
//   errors (5 % failures)   → contain still gives ≥ 99.5 % user success; success = 201 (authorized). A 202 means
//                             Payment stayed unavailable after the retries the budget allowed (the PaymentPending fallback)
//   always                  → dropped_iterations == 0, every toggle applied, invariants hold.
// Environment: RATE=30 orders/s (60 % of Payment's 50 orders/s: 100 charges/s, 2 charges per order), plus the variables
// of k6/README.md. Doc: k6/README.md
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { CLIENT_TIMEOUT_SECONDS, envNumber, requireAdminKey } from '../lib/config.js';
import { readStats, resetStats } from '../lib/admin.js';
import { placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const MODE = 'retry-budget';
const RATE = envNumber('RATE', 30);
if (!Number.isInteger(RATE)) throw new Error(`RATE=${RATE} must be a whole number of orders per second`);
const OUTAGE_SECONDS = 20; // the catalogue default of outageSeconds, passed explicitly below
const SLICE_SECONDS = 10; // "in every 10 s window"
const STATS_SERVICES = ['ordering', 'payment'];

const PHASES = [
  { name: 'baseline', state: 'off', seconds: 20, transitionSeconds: 0 },
  { name: 'reproduce', state: 'reproduce', seconds: 40, transitionSeconds: 2, parameters: { outageSeconds: OUTAGE_SECONDS } },
  { name: 'contain', state: 'contain', seconds: 40, transitionSeconds: 2, parameters: { outageSeconds: OUTAGE_SECONDS } },
  { name: 'recovery', state: 'off', seconds: 30, transitionSeconds: 10 },
];
let offset = 0;
PHASES.forEach((p) => {
  p.start = offset;
  offset += p.seconds;
});
const FAULT_PHASES = PHASES.filter((p) => p.state !== 'off');

/** Which part of a fault phase a second falls in: the outage, then the random errors. */
function faultAt(secondInPhase) {
  return secondInPhase < OUTAGE_SECONDS ? 'outage' : 'errors';
}

/** Per 10 s window of a fault phase (one per phase for baseline and recovery): Payment attempts ÷ logical calls. */
const retryAmplification = new Trend('retry_amplification');
/** One per window whose stats were read; guards the amplification thresholds against "no data". */
const amplificationSamples = new Counter('amplification_samples');
/** Per order: answered 201 — authorized by Payment (a 202 PaymentPending or an error is not a success here). */
const orderSuccess = new Rate('order_success');

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Records one window's amplification from the stats documents {payment, ordering} (GET /admin/stats bodies). */
function recordWindow(stats, tags) {
  const requests = stats.payment && stats.payment.payment && stats.payment.payment.requests;
  const counts = requests ? (requests.byOperation && requests.byOperation.authorize) || requests : null;
  const first = counts ? num(counts.first) : 0;
  const retry = counts ? num(counts.retry) : 0;
  const dep = stats.ordering && stats.ordering.ordering && stats.ordering.ordering.dependencies
    ? stats.ordering.ordering.dependencies.payment : null;
  const orderingView = dep ? `Ordering (this replica) requests=${dep.requests} attempts=${dep.attempts} ` +
    `budgetExhausted=${dep.budgetExhausted}` : 'Ordering stats unreadable';
  if (first === 0) {
    console.error(`${JSON.stringify(tags)}: no authorize reached Payment: no amplification sample (${orderingView})`);
    return;
  }
  const amplification = (first + retry) / first;
  retryAmplification.add(amplification, tags);
  amplificationSamples.add(1, tags);
  console.log(`${JSON.stringify(tags)}: Payment authorize first=${first} retry=${retry} → ${amplification.toFixed(2)}; ${orderingView}`);
}

// ---- load: the library's scenarios for baseline and recovery; fault phases split into outage and errors parts here

function arrivalScenario(phase, fault, window, startSecond, seconds) {
  return {
    executor: 'constant-arrival-rate',
    exec: 'writes',
    rate: RATE,
    timeUnit: '1s',
    duration: `${seconds}s`,
    startTime: `${phase.start + startSecond}s`,
    preAllocatedVUs: Math.max(2, RATE),
    maxVUs: RATE * (CLIENT_TIMEOUT_SECONDS + 1), // open model: every request of the client-timeout window may be in flight
    gracefulStop: `${CLIENT_TIMEOUT_SECONDS + 5}s`,
    tags: { phase: phase.name, window, workload: 'writes', fault },
  };
}

function faultLoad(phase) {
  const errorsTransition = 3;
  return {
    [`writes_${phase.name}_outage_transition`]: arrivalScenario(phase, 'outage', 'transition', 0, phase.transitionSeconds),
    [`writes_${phase.name}_outage`]: arrivalScenario(phase, 'outage', 'steady', phase.transitionSeconds, OUTAGE_SECONDS - phase.transitionSeconds),
    [`writes_${phase.name}_errors_transition`]: arrivalScenario(phase, 'errors', 'transition', OUTAGE_SECONDS, errorsTransition),
    [`writes_${phase.name}_errors`]: arrivalScenario(phase, 'errors', 'steady', OUTAGE_SECONDS + errorsTransition,
      phase.seconds - OUTAGE_SECONDS - errorsTransition),
  };
}

// ---- samplers: close each 10 s window of a fault phase; the controller closes the phase's last one

const SAMPLERS = {}; // scenario name → {phase, fault, slice}; built in the init context of every VU
function samplerScenarios(phase) {
  const scenarios = {};
  for (let end = SLICE_SECONDS; end < phase.seconds; end += SLICE_SECONDS) {
    const name = `stats_${phase.name}_${end}s`;
    SAMPLERS[name] = { phase: phase.name, fault: faultAt(end - 1), slice: String(end / SLICE_SECONDS) };
    scenarios[name] = {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      startTime: `${phase.start + end}s`,
      maxDuration: '20s',
      exec: 'windowSampler',
      tags: { role: 'sampler' }, // no phase tag: its admin calls never count in a phase's numbers
    };
  }
  return scenarios;
}

/** The window that ends when the next phase's controller (or teardown) reads the stats. */
function onPhaseEnd({ phase, state, stats, tags }) {
  const p = PHASES.find((x) => x.name === phase);
  const fault = state === 'off' ? 'none' : faultAt(p.seconds - 1);
  const slice = state === 'off' ? 'phase' : String(p.seconds / SLICE_SECONDS);
  recordWindow(stats, Object.assign({ fault, slice }, tags));
}

const scenarios = phasedScenarios({
  mode: MODE,
  phases: PHASES,
  services: STATS_SERVICES,
  workloads: { writes: { exec: 'writes', rate: (phase) => (phase.state === 'off' ? RATE : 0) } },
  onPhaseEnd,
});
FAULT_PHASES.forEach((phase) => Object.assign(scenarios, faultLoad(phase), samplerScenarios(phase)));

export const options = {
  scenarios,
  thresholds: drillThresholds({
    // outage, reproduce must SHOW the failure: per-request caps let every call become ≈ 4 attempts (3 retries) —
    // in every 10 s window of the outage
    'retry_amplification{phase:reproduce,fault:outage}': ['min>=3.5'],
    'amplification_samples{phase:reproduce,fault:outage}': ['count>=2'], // both outage windows were read
    // outage, contain must HOLD it: the budget keeps amplification ≤ 1.2 in every 10 s window
    'retry_amplification{phase:contain,fault:outage}': ['max<=1.2'],
    'amplification_samples{phase:contain,fault:outage}': ['count>=2'],
    // errors (5 %), contain: the budget must not remove the benefit of retries — ≥ 99.5 % of orders authorized (201)
    'order_success{phase:contain,fault:errors,window:steady}': ['rate>=0.995'],
    // the healthy system authorizes ~every order; recovery is back there ≤ 10 s after the fault ends
    [inPhase('order_success', 'baseline')]: ['rate>=0.995'],
    [inPhase('order_success', 'recovery')]: ['rate>=0.995'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '120s', // close the phase, reset the modes, then up to 60 s for the invariants to settle
};

export function setup() {
  return drillSetup();
}

/** RATE orders/s whatever the answers; Ordering's 503 + Retry-After is an expected answer, not a client error. */
export function writes() {
  const placed = placeOrder({ rejectionsExpected: true });
  orderSuccess.add(placed.res.status === 201);
}

/** Closes one 10 s window: read Payment's and Ordering's stats, record the window's amplification, start the next. */
export function windowSampler() {
  const window = SAMPLERS[exec.scenario.name];
  if (!window) throw new Error(`scenario ${exec.scenario.name} is not a stats sampler`);
  const stats = {};
  STATS_SERVICES.forEach((service) => {
    stats[service] = readStats(service);
  });
  STATS_SERVICES.forEach(resetStats);
  recordWindow(stats, window);
}

export function teardown() {
  drillTeardown({ settleSeconds: 60 }); // PaymentPending orders are authorized by a job once Payment answers
}

const summary = drillSummary(MODE, {
  report: ['orders_offered', 'goodput', 'order_success', 'order_latency', 'order_rejections', 'retry_amplification'],
});

export function handleSummary(data) {
  return summary(data);
}
