// Drill pool-exhaustion — toggle: PUT /admin/failure-modes/pool-exhaustion (off → reproduce → contain → off),
// parameters poolSize (Ordering's write pool per replica) and paymentServiceTimeMs (Payment slowed).
// Invariant: requests wait for a CONNECTION, not for SQL. reproduce (transaction held across the Payment call,
// services/Ordering/Orders/HeldConnectionPlacement.cs) ⇒ Npgsql pending_requests > 0 most of the time and pool wait
// p95 > 500 ms while SQL p95 < 20 ms; contain (connections only for SQL, pool-wait timeout below the deadline,
// services/Ordering/Orders/OrderPlacement.cs) ⇒ pending ≈ 0, no pool-wait timeouts, goodput ≥ 2 × reproduce;
// GET /admin/invariants total == 0 at the end.
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/pool-exhaustion.js      # RATE=16 orders/s; POOL_SIZE=1, PAYMENT_MS=200
//
// With one Ordering replica the reproduce capacity is POOL_SIZE / PAYMENT_MS = 5 orders/s, below the offered RATE;
// Payment itself (10 slots / 200 ms, authorize + capture per order) carries 25 orders/s, above it.
// Doc: docs/failure-modes/pool-exhaustion.md
import { Counter, Rate, Trend } from 'k6/metrics';
import { envNumber, requireAdminKey } from '../lib/config.js';
import { readStats } from '../lib/admin.js';
import { placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios, standardPhases } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const RATE = envNumber('RATE', 16);
const POOL_SIZE = envNumber('POOL_SIZE', 1);
const PAYMENT_MS = envNumber('PAYMENT_MS', 200);

/** One sample per second of Npgsql's pending_requests on Ordering: true when some request waited for a connection. */
const poolPending = new Rate('pool_pending');
/** Per phase, from Ordering's /admin/stats "placement": p95 of the wait for a connection and of the SQL itself. */
const poolWaitP95 = new Trend('placement_pool_wait_p95', true);
const sqlP95 = new Trend('placement_sql_p95', true);
/** Per phase: placements answered 503 because no connection came within the pool-wait timeout (contain's fast fail). */
const poolWaitTimeouts = new Counter('placement_pool_wait_timeouts');

function poolNumber(stats, key) {
  return stats && stats.pool && typeof stats.pool[key] === 'number' ? stats.pool[key] : 0;
}

export const options = {
  scenarios: phasedScenarios({
    mode: 'pool-exhaustion',
    parameters: { poolSize: POOL_SIZE, paymentServiceTimeMs: PAYMENT_MS },
    phases: standardPhases({ baseline: 20, reproduce: 40, contain: 40, recovery: 30, transition: 5 }),
    workloads: {
      writes: { exec: 'writes', rate: RATE },
      pool: { exec: 'samplePool', rate: 1, preAllocatedVUs: 2, maxVUs: 5 },
    },
    services: ['ordering', 'payment'],
    onPhaseEnd: ({ stats, tags }) => {
      const placement = stats.ordering && stats.ordering.placement;
      if (!placement) return;
      poolWaitP95.add(placement.poolWaitMs.p95, tags);
      sqlP95.add(placement.sqlMs.p95, tags);
      poolWaitTimeouts.add(placement.poolWaitTimeouts, tags);
    },
  }),
  thresholds: drillThresholds({
    // reproduce must SHOW it: "pending > 0 most of the time" …
    [inPhase('pool_pending', 'reproduce')]: ['rate>0.5'],
    // … "and pool wait p95 > 500 ms" …
    'placement_pool_wait_p95{phase:reproduce}': ['max>500'],
    // … "while SQL p95 < 20 ms": the time is pool wait, not slow SQL
    'placement_sql_p95{phase:reproduce}': ['max<20'],
    // contain must HOLD: "pending p95 = 0" (at most 5 % of the one-per-second samples see a waiter)
    [inPhase('pool_pending', 'contain')]: ['rate<=0.05'],
    // contain: "timeouts 0" — no placement needed the fast-fail
    'placement_pool_wait_timeouts{phase:contain}': ['count==0'],
    // contain: "goodput ≥ 2 × reproduce" — the same offered rate, so as ratios of it: ≥ 90 % in contain …
    [inPhase('goodput_ratio', 'contain')]: ['rate>=0.9'],
    // … and < 45 % in reproduce (so contain ≥ 2 × reproduce)
    [inPhase('goodput_ratio', 'reproduce')]: ['rate<0.45'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '90s',
};

export function setup() {
  return drillSetup();
}

export function writes() {
  placeOrder({ rejectionsExpected: true }); // contain answers a pool-wait timeout 503 + Retry-After
}

export function samplePool() {
  poolPending.add(poolNumber(readStats('ordering'), 'npgsql.pending_requests') > 0);
}

export function teardown() {
  drillTeardown();
}

export const handleSummary = drillSummary('pool-exhaustion');
