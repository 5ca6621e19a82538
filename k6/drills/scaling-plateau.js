// Drill scaling-plateau — toggle: PUT /admin/failure-modes/scaling-plateau (off → reproduce → contain → off),
// parameters paymentQuotaPerSecond (Payment's global quota: the declared external capacity) and poolSizePerReplica.
// Invariant: goodput grows with replicas until the declared external capacity. reproduce (every order locks the one
// order-number counter row and holds it across the Payment call, services/Ordering/Orders/HeldConnectionPlacement.cs)
// ⇒ goodput is capped at 1 ÷ (Payment latency) fleet-wide, whatever the offered rate or the replica count;
// contain (order numbers from a sequence, no lock across a remote call) ⇒ goodput follows the offered rate, lock
// waits 0; GET /admin/invariants total == 0 at the end.
//
//   export RELIABLESHOP_ADMIN_KEY=...          # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/scaling-plateau.js        # RATE=30 orders/s offered
//
// Scaling efficiency needs two runs: start the AppHost with ReliableShop:OrderingReplicas=1, run with RATE=10, then
// with ReliableShop:OrderingReplicas=3 and RATE=30; efficiency = goodput(3) ÷ (3 × goodput(1)) per phase, printed
// in each run's summary as `goodput` per phase. The automated drill (tests/System.Tests/Drills/
// ScalingPlateauDrillTests.cs) does this in one run with 1 and 3 concurrent workers against the same bottleneck.
// Doc: docs/failure-modes/scaling-plateau.md
import { Trend } from 'k6/metrics';
import { envNumber, requireAdminKey } from '../lib/config.js';
import { placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios, standardPhases } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const RATE = envNumber('RATE', 30);
const QUOTA = envNumber('PAYMENT_QUOTA', 200);

/** Per phase, from Ordering's /admin/stats "placement": p95 wait on the hot row's lock, and placements on the naive path. */
const lockWaitP95 = new Trend('placement_lock_wait_p95', true);
const heldPlacements = new Trend('placement_held');

export const options = {
  scenarios: phasedScenarios({
    mode: 'scaling-plateau',
    parameters: { paymentQuotaPerSecond: QUOTA, poolSizePerReplica: 20 },
    phases: standardPhases({ baseline: 20, reproduce: 40, contain: 40, recovery: 30, transition: 5 }),
    workloads: { writes: { exec: 'writes', rate: RATE } },
    services: ['ordering', 'payment'],
    onPhaseEnd: ({ stats, tags }) => {
      const placement = stats.ordering && stats.ordering.placement;
      if (!placement) return;
      lockWaitP95.add(placement.lockWaitMs.p95, tags);
      heldPlacements.add(placement.held, tags);
    },
  }),
  thresholds: drillThresholds({
    // reproduce must SHOW the plateau: the one locked row serialises orders for a Payment call each, so goodput stays
    // far below the offered rate (≤ 1.15 × one replica's goodput in the spec; here: under half of what is offered)
    [inPhase('goodput_ratio', 'reproduce')]: ['rate<0.5'],
    // reproduce: the time goes to waiting on the lock (p95 rises ≥ 2×)
    'placement_lock_wait_p95{phase:reproduce}': ['max>100'],
    // contain must HOLD: goodput follows the offered rate below the declared capacity (efficiency ≥ 0.8)
    [inPhase('goodput_ratio', 'contain')]: ['rate>=0.8'],
    // contain: "lock waits ≈ 0" — no placement took the hot row
    'placement_held{phase:contain}': ['max==0'],
    // contain: "zero too many clients errors" — no order failed
    [inPhase('http_req_failed', 'contain', { op: 'place_order' })]: ['rate==0'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '90s',
};

export function setup() {
  return drillSetup();
}

export function writes() {
  placeOrder({ rejectionsExpected: false });
}

export function teardown() {
  drillTeardown();
}

export const handleSummary = drillSummary('scaling-plateau');
