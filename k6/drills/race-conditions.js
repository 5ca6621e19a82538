// Drill race-conditions — toggle: PUT /admin/failure-modes/race-conditions (baseline off → reproduce → contain → off).
// Invariants: reservations never exceed stock (a flash sale of one SKU with stock 100 confirms exactly 100 orders);
// one Idempotency-Key → one order (4 concurrent copies of one key all answer the same order); at most one capture per
// order; stock never below zero. reproduce: Inventory reserves by read-check-write (lost updates) and Ordering calls
// Payment with a fresh key per call → more than 100 confirmed, and GET /admin/invariants shows inventory.oversoldSkus
// and payment.authorizationsPerOrderAboveOne. contain: atomic conditional UPDATE, keyed Payment → exactly 100.
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/race-conditions.js
//
// Shape (failure-modes.md §10): per phase, a flash sale on its own SKU (stock FLASH_STOCK = 100): 1,000 single-unit
// orders arriving at 100/s (open model), each followed until Confirmed or Cancelled; plus duplicate
// submissions: 2 keys/s, each sent 4 times at once (http.batch). Sold = Confirmed orders of the phase's SKU.
// The reproduce damage stays in the data after the run (that is the lesson); docs/failure-modes/race-conditions.md
// shows the repair. Doc: k6/README.md
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate } from 'k6/metrics';
import { ADMIN_KEY, SERVICES, envNumber, requireAdminKey } from '../lib/config.js';
import { checkInvariants, invariantViolations } from '../lib/admin.js';
import { awaitSettled, newIdempotencyKey, placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phaseController, phasedScenarios } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';

requireAdminKey();

const STOCK = envNumber('FLASH_STOCK', 100);
const FLASH_RATE = envNumber('FLASH_RATE', 100); // orders/s: 10 s of a phase = 1,000 orders for STOCK units
const PHASE_SKU = { baseline: 'SKU-0057', reproduce: 'SKU-0058', contain: 'SKU-0059', recovery: 'SKU-0060' };
const DUPLICATE_SKU = 'SKU-0056';

/** Per flash-sale order that settled: true when Confirmed (it got a unit). Count per phase = units sold. */
const flashSold = new Counter('flash_sold');
/** Per flash-sale order that settled Cancelled (rejected: out of stock, nothing reserved). */
const flashRejected = new Counter('flash_rejected');
/** Per duplicate group (4 concurrent copies of one key): true when all 4 answered 2xx with the same order id. */
const duplicatesCollapsed = new Rate('duplicates_collapsed');
/** Violations read from GET /admin/invariants when a phase ends, tagged phase and invariant. */
const phaseViolations = new Counter('phase_invariant_violations');

const phases = [
  { name: 'baseline', state: 'off', seconds: 20, transitionSeconds: 0 },
  { name: 'reproduce', state: 'reproduce', seconds: 40, transitionSeconds: 0 },
  { name: 'contain', state: 'contain', seconds: 40, transitionSeconds: 0 },
  { name: 'recovery', state: 'off', seconds: 20, transitionSeconds: 0 },
];
// The flash sale runs in the first 10 s of each phase (then the phase waits for its orders to settle).
const flashRate = (phase) => (phase.name === 'baseline' || phase.name === 'recovery' ? FLASH_RATE / 10 : FLASH_RATE);

export const options = {
  scenarios: phasedScenarios({
    mode: 'race-conditions',
    parameters: { raceWindowMs: envNumber('RACE_WINDOW_MS', 20) },
    phases,
    controllerExec: 'controller',
    workloads: {
      // every buyer is followed until it settles (seconds while Payment works through 100/s), so a VU stays busy
      // that long: 1,000 arrivals in 10 s need far more than the spec's 200 VUs to stay open-model (dropped == 0)
      flash: { exec: 'flash', rate: flashRate, preAllocatedVUs: 200, maxVUs: 1500 },
      duplicates: { exec: 'duplicates', rate: 2, preAllocatedVUs: 4, maxVUs: 40 },
    },
    services: ['ordering', 'inventory', 'payment'],
    onPhaseEnd: ({ tags }) => {
      const report = checkInvariantsOnce();
      if (report && report.violations) {
        Object.keys(report.violations).forEach((name) =>
          phaseViolations.add(Number(report.violations[name]) || 0, Object.assign({ invariant: name }, tags)));
      }
    },
  }),
  thresholds: drillThresholds({
    // baseline: the healthy path sells what it has (its stock is STOCK too, offered 100 orders: all sold, none extra)
    [inPhase('flash_sold', 'baseline')]: [`count<=${STOCK}`],
    // reproduce must SHOW the race: more units sold than the stock (read-check-write lost updates) …
    [inPhase('flash_sold', 'reproduce')]: [`count>${STOCK}`],
    // … and the system view counts it: an oversold SKU and orders authorized more than once
    'phase_invariant_violations{phase:reproduce,invariant:inventory.oversoldSkus}': ['count>=1'],
    'phase_invariant_violations{phase:reproduce,invariant:payment.authorizationsPerOrderAboveOne}': ['count>=1'],
    // contain must HOLD: exactly STOCK sold, every other buyer cleanly rejected (Cancelled, nothing reserved)
    [inPhase('flash_sold', 'contain')]: [`count==${STOCK}`],
    [inPhase('flash_rejected', 'contain')]: ['count>0'],
    [inPhase('orders_settled', 'contain')]: ['rate==1'], // every accepted buyer ends Confirmed or Cancelled: no stuck order
    // one Idempotency-Key → one order, in every phase (the unique key with ON CONFLICT replay is never switched off)
    duplicates_collapsed: ['rate==1'],
    // invariants reproduce cannot break and contain must keep: stock never below 0, at most one capture per order
    'invariant_violations{invariant:inventory.negativeStock}': ['count==0'],
    'invariant_violations{invariant:payment.capturesPerOrderAboveOne}': ['count==0'],
    'invariant_violations{invariant:payment.capturedAndVoided}': ['count==0'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '90s',
};
// drillThresholds adds invariants_hold/invariant_violations == 0 over ALL invariants; the reproduce phase breaks two
// of them on purpose and they stay broken, so the drill judges the final read per invariant (above) instead.
delete options.thresholds.invariants_hold;
delete options.thresholds.invariant_violations;

function phaseOf() {
  return exec.scenario.name.split('_')[1]; // flash_<phase>[_transition], duplicates_<phase>, control_<phase>
}

function checkInvariantsOnce() {
  const res = http.get(`${SERVICES.ordering}/admin/invariants?settleSeconds=0`,
    { headers: { 'X-Admin-Key': ADMIN_KEY }, tags: { op: 'admin', name: 'GET /admin/invariants' } });
  try {
    return res.status === 200 ? res.json() : null;
  } catch (e) {
    return null;
  }
}

/** The phase controller plus the phase's flash-sale stock: PUT /admin/catalog/items/{sku} {available: STOCK}. */
export function controller() {
  const sku = PHASE_SKU[phaseOf()];
  const res = http.put(`${SERVICES.inventory}/admin/catalog/items/${sku}`, JSON.stringify({ available: STOCK }), {
    headers: { 'X-Admin-Key': ADMIN_KEY, 'Content-Type': 'application/json' },
    tags: { op: 'admin', name: 'PUT /admin/catalog/items/{sku}' },
  });
  check(res, { [`stock of ${sku} set to ${STOCK}`]: (r) => r.status === 200 }, { op: 'admin' });
  phaseController();
}

export function setup() {
  return drillSetup();
}

/** One buyer of the phase's SKU; followed until it settles: Confirmed = a unit sold, Cancelled = rejected. */
export function flash() {
  if (exec.scenario.progress > 0.25 && phaseOf() !== 'baseline' && phaseOf() !== 'recovery') return; // the sale: first 10 s
  const sku = PHASE_SKU[phaseOf()];
  const placed = placeOrder({ items: [{ sku, quantity: 1 }], rejectionsExpected: true });
  if (!placed.accepted || !placed.order) return;
  const { status } = awaitSettled(placed.order.id, { deadlineSeconds: 60 });
  if (status === 'Confirmed') flashSold.add(1);
  if (status === 'Cancelled') flashRejected.add(1);
}

/** Four copies of one order under one Idempotency-Key, sent at once: they must all answer the same order. */
export function duplicates() {
  const key = newIdempotencyKey();
  const body = JSON.stringify({ customerId: `k6-dup-${__VU}`, items: [{ sku: DUPLICATE_SKU, quantity: 1 }] });
  const request = {
    method: 'POST',
    url: `${SERVICES.ordering}/api/orders`,
    body,
    params: {
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
      tags: { op: 'place_order', name: 'POST /api/orders (duplicate)' },
      responseCallback: http.expectedStatuses({ min: 200, max: 299 }, 503),
    },
  };
  const responses = http.batch([request, request, request, request]);
  const ids = responses.map((r) => {
    try {
      return r.status >= 200 && r.status < 300 ? r.json('id') : null;
    } catch (e) {
      return null;
    }
  });
  if (ids.some((id) => id === null)) return; // shed by admission (503): not a verdict on idempotency
  duplicatesCollapsed.add(ids.every((id) => id === ids[0]));
}

export function teardown() {
  const report = drillTeardown();
  if (report && report.violations) {
    console.log(`final invariants (reproduce damage expected in oversoldSkus / authorizationsPerOrderAboveOne): ${JSON.stringify(report.violations)}`);
  }
}

export const handleSummary = drillSummary('race-conditions', {
  report: ['flash_sold', 'flash_rejected', 'duplicates_collapsed', 'phase_invariant_violations', 'invariant_violations'],
});
