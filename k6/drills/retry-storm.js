// Drill retry-storm — toggle: PUT /admin/failure-modes/retry-storm (reproduce → contain; capacityFraction, attemptTimeoutMs,
// retries from the catalogue). Invariant: retries never multiply the load on a degraded Payment — retry amplification
// (attempts Payment receives ÷ logical calls) stays ≤ 1.5 under contain and the system recovers within 10 s once the
// trigger is gone; GET /admin/invariants reports total == 0 once the system has settled.
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/retry-storm.js
//
// Timeline (spec ../shared/design/failure-modes.md §2; offered 70 % of healthy Payment capacity, open model):
//   0 ────── 20 ──────────── 60 ──────────────────── 100 ──────────── 140 ──────────── 170 s
//   ◆ off     ◆ reproduce      ◆ reproduce, capacity 1  ◆ contain        ◆ off
//   baseline  reproduce        reproduce_relief         contain          recovery
//             Payment at 1/3   the TRIGGER is gone,     Payment at 1/3   trigger gone, protected path
//             naive retries    naive retries stay on
// reproduce_relief is how "recovery > 30 s" (metastability) is observed: Payment gets its full capacity back, but the
// naive retry layers keep it overloaded. Turning the mode off instead would also switch the naive retries off.
// Its 30 s transition window is not judged; its last 10 s must still be below the "recovered" goodput ratio.
// The recovery phase's 10 s transition IS "contain → recovery ≤ 10 s": its steady window must be recovered.
//
// Retry amplification is read from GET /admin/stats by the phase controller: the stats are reset when a phase starts and
// read when it ends (lib/phases.js), and onPhaseEnd turns them into one retry_amplification sample per phase:
//   Payment's "payment" section: requests.byOperation.authorize.{first,retry} (X-Attempt 1 vs > 1, counted on arrival)
//   amplification = (first + retry) ÷ first     — first = one per logical authorize call that reached Payment
// Payment is one instance, so this holds however many Ordering replicas run. Ordering's own view
// (ordering.dependencies.payment.attempts ÷ .requests, one replica behind ORDERING_URL) and Payment's providerRetries
// (the second, inner retry layer) are logged per phase, not judged.
//
// Criteria (thresholds below):
//   reproduce → amplification ≥ 3, charge goodput < 50 % of the degraded capacity; recovery > 30 s (30 s after the
//               trigger is gone, goodput ratio still < RECOVERED)
//   contain   → amplification ≤ 1.5 (AMPLIFICATION_CONTAIN_MAX; the spec's 1.2 applies with the retry budget alone,
//               see retry-budget.js); goodput ≥ 85 % of the degraded capacity; recovery ≤ 10 s
// Goodput for the capacity clause is counted where the degraded capacity is: charges Payment did for a caller still
// waiting for the answer (payment.charges.answered in /admin/stats), per second of the phase, ÷ the degraded charges/s
// — one charge_goodput_ratio sample per phase. A storm spends the capacity on attempts whose caller already gave up
// (payment.charges.abandoned); a fast 202 (PaymentPending, the breaker's fallback) does no charge, so neither passes
// for goodput. Orders authorized at once (201 within the SLO) are counted beside it (authorized_goodput), not judged.
// "Recovered" uses goodput_ratio (any 2xx within the SLO).
//   always    → dropped_iterations == 0, every toggle applied, invariants hold.
//
// Capacities (k6 thresholds compare with constants): healthy Payment = 100 charges/s (10 slots × 100 ms) and every
// order costs 2 charges (authorize now, capture once stock is reserved), so healthy order capacity = 50/s;
// offered = 70 % = 35 orders/s; degraded = capacityFraction 0.33 × 100 = 33 charges/s.
// Environment: HEALTHY_ORDERS_PER_S=50, OFFERED_RPS (default 0.7 × healthy), CAPACITY_FRACTION=0.33,
// RECOVERED_GOODPUT_RATIO=0.95, AMPLIFICATION_CONTAIN_MAX=1.5, plus the variables of k6/README.md. Doc: k6/README.md
import { Counter, Trend } from 'k6/metrics';
import { envNumber, requireAdminKey } from '../lib/config.js';
import { placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const MODE = 'retry-storm';
const HEALTHY_ORDERS_PER_S = envNumber('HEALTHY_ORDERS_PER_S', 50);
const OFFERED_RPS = envNumber('OFFERED_RPS', Math.round(0.7 * HEALTHY_ORDERS_PER_S));
const CAPACITY_FRACTION = envNumber('CAPACITY_FRACTION', 0.33);
const DEGRADED_CHARGES_PER_S = CAPACITY_FRACTION * HEALTHY_ORDERS_PER_S * 2;
const RECOVERED = envNumber('RECOVERED_GOODPUT_RATIO', 0.95); // "recovered" = this share of orders 2xx within the SLO
const AMPLIFICATION_CONTAIN_MAX = envNumber('AMPLIFICATION_CONTAIN_MAX', 1.5);
if (!Number.isInteger(OFFERED_RPS)) throw new Error(`OFFERED_RPS=${OFFERED_RPS} must be a whole number`);

const PHASES = [
  { name: 'baseline', state: 'off', seconds: 20, transitionSeconds: 0 },
  { name: 'reproduce', state: 'reproduce', seconds: 40, transitionSeconds: 3, parameters: { capacityFraction: CAPACITY_FRACTION } },
  { name: 'reproduce_relief', state: 'reproduce', seconds: 40, transitionSeconds: 30, parameters: { capacityFraction: 1 } },
  { name: 'contain', state: 'contain', seconds: 40, transitionSeconds: 5, parameters: { capacityFraction: CAPACITY_FRACTION } },
  { name: 'recovery', state: 'off', seconds: 30, transitionSeconds: 10 },
];

/** One sample per phase: attempts Payment received for authorize ÷ the logical authorize calls (first attempts). */
const retryAmplification = new Trend('retry_amplification');
/** One sample per phase whose stats could be read; guards the amplification thresholds against "no data". */
const amplificationSamples = new Counter('amplification_samples');
/** One sample per phase: charges Payment answered to a waiting caller per second ÷ the degraded capacity. */
const chargeGoodput = new Trend('charge_goodput_ratio');
/** Orders answered 201 (authorized by Payment, not the 202 PaymentPending fallback) within the SLO; reported only. */
const authorizedGoodput = new Counter('authorized_goodput');

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** {first, retry} that Payment received for authorize (falls back to every operation when byOperation lacks it). */
function paymentAttempts(doc) {
  const requests = doc && doc.payment && doc.payment.requests;
  if (!requests) return null;
  const counts = (requests.byOperation && requests.byOperation.authorize) || requests;
  return { first: num(counts.first), retry: num(counts.retry), providerRetries: num(doc.payment.providerRetries) };
}

function onPhaseEnd({ phase, stats, tags }) {
  const received = paymentAttempts(stats.payment);
  const ordering = stats.ordering && stats.ordering.ordering && stats.ordering.ordering.dependencies
    ? stats.ordering.ordering.dependencies.payment : null;
  if (!received || received.first === 0) {
    console.error(`phase ${phase}: no authorize reached Payment (stats: ${JSON.stringify(stats.payment)}): no amplification sample`);
    return;
  }
  const amplification = (received.first + received.retry) / received.first;
  retryAmplification.add(amplification, tags);
  amplificationSamples.add(1, tags);
  const charges = stats.payment.payment.charges || {};
  const seconds = PHASES.find((p) => p.name === phase).seconds; // the stats cover the whole phase, transition included
  const ratio = num(charges.answered) / seconds / DEGRADED_CHARGES_PER_S;
  chargeGoodput.add(ratio, tags);
  const orderingView = ordering && ordering.requests > 0 ? (ordering.attempts / ordering.requests).toFixed(2) : 'n/a';
  console.log(
    `phase ${phase}: Payment authorize first=${received.first} retry=${received.retry} → amplification ` +
      `${amplification.toFixed(2)}; Payment providerRetries=${received.providerRetries}; charges answered=` +
      `${num(charges.answered)} abandoned=${num(charges.abandoned)} → ${(100 * ratio).toFixed(0)} % of the degraded capacity; ` +
      `Ordering (this replica) attempts÷requests=${orderingView}`,
  );
}

export const options = {
  scenarios: phasedScenarios({
    mode: MODE,
    phases: PHASES,
    services: ['ordering', 'payment'],
    workloads: { writes: { exec: 'writes', rate: OFFERED_RPS } },
    onPhaseEnd,
  }),
  thresholds: drillThresholds({
    // baseline: the healthy system serves 70 % of its capacity — the "recovered" level the recovery windows compare with
    [inPhase('goodput_ratio', 'baseline')]: [`rate>=${RECOVERED}`],

    // reproduce must SHOW the storm: Payment receives ≥ 3 attempts per logical call
    'retry_amplification{phase:reproduce}': ['avg>=3'],
    'amplification_samples{phase:reproduce}': ['count>=1'], // the stats were read (no vacuous pass)
    // … spending the degraded capacity on callers that gave up: under half of it answers anyone
    'charge_goodput_ratio{phase:reproduce}': ['avg<0.5'],
    // … and it is metastable: 30 s after the trigger is gone, goodput is still below the recovered level (recovery > 30 s)
    [inPhase('goodput_ratio', 'reproduce_relief')]: [`rate<${RECOVERED}`],

    // contain must HOLD it: amplification ≤ 1.5 …
    'retry_amplification{phase:contain}': [`avg<=${AMPLIFICATION_CONTAIN_MAX}`],
    'amplification_samples{phase:contain}': ['count>=1'],
    // … goodput ≥ 85 % of the degraded capacity: charges answered to a waiting caller ÷ the degraded charges/s
    'charge_goodput_ratio{phase:contain}': ['avg>=0.85'],
    // … and recovery ≤ 10 s: the steady window after the 10 s recovery transition is back at the recovered level
    [inPhase('goodput_ratio', 'recovery')]: [`rate>=${RECOVERED}`],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '120s', // close the phase, reset the modes, then up to 60 s for the invariants to settle
};

export function setup() {
  return drillSetup();
}

/** OFFERED_RPS orders/s whatever the answers; Ordering's 503 + Retry-After (dependency unavailable) is an expected answer. */
export function writes() {
  const placed = placeOrder({ rejectionsExpected: true });
  if (placed.res.status === 201 && placed.withinSlo) authorizedGoodput.add(1);
}

export function teardown() {
  drillTeardown({ settleSeconds: 60 });
}

const summary = drillSummary(MODE, {
  report: ['orders_offered', 'goodput', 'authorized_goodput', 'order_latency', 'order_rejections', 'retry_amplification'],
});

export function handleSummary(data) {
  return summary(data);
}
