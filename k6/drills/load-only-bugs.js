// Drill load-only-bugs — toggle: PUT /admin/failure-modes/load-only-bugs (off → reproduce → contain → off),
// parameters tailLatencyPercent / tailLatencyMs (Payment's injected tail latency).
// Invariant: one order per cart, one load per cold key. reproduce (SELECT-then-INSERT, lazy cache-aside without
// single-flight) ⇒ carts with duplicate orders and ≥ 10 PostgreSQL loads per 100 concurrent cold reads; contain
// (cart_claims primary key + INSERT … ON CONFLICT replaying the stored order; single-flight cold loads) ⇒ 0 duplicate
// carts, exactly 1 load per burst; GET /admin/invariants total == 0 at the end.
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/load-only-bugs.js
//
// Three workloads per phase, all open-model:
//   impatient   orders with a cartId; no answer within PATIENCE_MS ⇒ the client submits the cart AGAIN under a new
//               Idempotency-Key while the first request still runs (a retry of a timed-out request that did not
//               cancel it — a second click). Both answers are awaited.
//   cart_burst  BURST_SIZE submissions of one cart released at once (http.batch), distinct keys.
//   stampede    invalidate one catalog item, then 100 concurrent reads of it (http.batch); loads from Inventory's stats.
// Doc: docs/failure-modes/load-only-bugs.md
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { ADMIN_KEY, SERVICES, envNumber, requireAdminKey } from '../lib/config.js';
import { readStats } from '../lib/admin.js';
import { newIdempotencyKey, randomSku } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios, standardPhases } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const RATE = envNumber('RATE', 10); // impatient orders per second
const PATIENCE_MS = envNumber('PATIENCE_MS', 500);
const BURST_SIZE = envNumber('BURST_SIZE', 50);
const STAMPEDE_READS = envNumber('STAMPEDE_READS', 100);

/** Per cart burst: true when the burst created more than one order (distinct order ids in the 2xx answers). */
const burstDuplicated = new Rate('cart_burst_duplicated');
/** Per stampede: loads from PostgreSQL Inventory counted for STAMPEDE_READS concurrent reads of one cold item. */
const stampedeLoads = new Trend('stampede_loads');
/** Per phase: carts that got more than one order (Ordering /admin/stats "carts", counted since the phase's reset). */
const duplicateCarts = new Counter('duplicate_carts');
/** Impatient submissions sent a second time. */
const resubmits = new Counter('cart_resubmits');

const ordersUrl = `${SERVICES.ordering}/api/orders`;
const ACCEPTED_OR_EXPECTED = http.expectedStatuses({ min: 200, max: 299 }, 409, 429, 503);

function orderRequest(cartId, sku, tags) {
  return {
    method: 'POST',
    url: ordersUrl,
    body: JSON.stringify({ customerId: `k6-${__VU}`, items: [{ sku, quantity: 1 }], cartId }),
    params: {
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': newIdempotencyKey() },
      tags: Object.assign({ op: 'place_order', name: 'POST /api/orders' }, tags || {}),
      responseCallback: ACCEPTED_OR_EXPECTED,
      timeout: '30s',
    },
  };
}

function orderId(res) {
  if (res.status < 200 || res.status >= 300) return null;
  try {
    return res.json().id;
  } catch (e) {
    return null;
  }
}

export const options = {
  batchPerHost: Math.max(BURST_SIZE, STAMPEDE_READS), // http.batch releases the whole burst at once (default 6)
  scenarios: phasedScenarios({
    mode: 'load-only-bugs',
    parameters: { tailLatencyPercent: 10, tailLatencyMs: 800 },
    phases: standardPhases({ baseline: 20, reproduce: 40, contain: 40, recovery: 30, transition: 3 }),
    workloads: {
      impatient: { exec: 'impatient', rate: RATE },
      cart_burst: { exec: 'cartBurst', rate: 0.25, preAllocatedVUs: 2, maxVUs: 10 },
      stampede: { exec: 'stampede', rate: 0.25, preAllocatedVUs: 2, maxVUs: 4 },
    },
    services: ['ordering', 'inventory', 'payment'],
    onPhaseEnd: ({ stats, tags }) => {
      const carts = stats.ordering && stats.ordering.carts; // one replica's view is the whole database's
      if (carts) duplicateCarts.add(carts.cartsWithDuplicates, tags);
    },
  }),
  thresholds: drillThresholds({
    // reproduce must SHOW it: "50 identical concurrent submissions ⇒ duplicates > 0 in most runs"
    [inPhase('cart_burst_duplicated', 'reproduce')]: ['rate>0.5'],
    // reproduce: "100 concurrent cold reads ⇒ ≥ 10 loads"
    [inPhase('stampede_loads', 'reproduce')]: ['min>=10'],
    // reproduce: the impatient client under tail latency makes duplicate orders
    'duplicate_carts{phase:reproduce}': ['count>0'],
    // contain must HOLD: "0 duplicates" — in every burst …
    [inPhase('cart_burst_duplicated', 'contain')]: ['rate==0'],
    // … and over the whole phase of impatient clients
    'duplicate_carts{phase:contain}': ['count==0'],
    // contain: "exactly 1 load per key per instance"
    [inPhase('stampede_loads', 'contain')]: ['max==1', 'min==1'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '90s',
};

export function setup() {
  return drillSetup();
}

export async function impatient() {
  const cart = `k6-cart-${newIdempotencyKey()}`;
  const sku = randomSku();
  const send = () => {
    const r = orderRequest(cart, sku);
    return http.asyncRequest(r.method, r.url, r.body, r.params);
  };
  const first = send();
  const answeredInTime = await Promise.race([
    first.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), PATIENCE_MS)),
  ]);
  const attempts = [first];
  if (!answeredInTime) {
    resubmits.add(1);
    attempts.push(send()); // the same cart again, a NEW key, while the first request still runs
  }
  const answers = await Promise.all(attempts);
  check(answers, { 'cart answered (2xx, or 409 while its order is being placed)': (a) => a.some((r) => r.status >= 200 && r.status < 300 || r.status === 409) });
}

export function cartBurst() {
  const cart = `k6-burst-${newIdempotencyKey()}`;
  const sku = randomSku();
  const answers = http.batch(Array.from({ length: BURST_SIZE }, () => orderRequest(cart, sku, { op: 'cart_burst' })));
  const ids = new Set(answers.map(orderId).filter((id) => id !== null));
  burstDuplicated.add(ids.size > 1);
}

export function stampede() {
  const n = 41 + Math.floor(Math.random() * 20);
  const sku = `SKU-${String(n).padStart(4, '0')}`;
  const admin = { headers: { 'Content-Type': 'application/json', 'X-Admin-Key': ADMIN_KEY }, tags: { op: 'admin', name: 'PUT /admin/catalog/items/{sku}' } };
  // A stock change bumps the item's version and writes a tombstone: the key is cold.
  const available = 500 + Math.floor(Math.random() * 500);
  http.put(`${SERVICES.inventory}/admin/catalog/items/${sku}`, JSON.stringify({ available }), admin);
  const before = readStats('inventory');
  const reads = http.batch(Array.from({ length: STAMPEDE_READS }, () => ({
    method: 'GET',
    url: `${SERVICES.inventory}/api/catalog/items/${sku}`,
    params: { tags: { op: 'catalog_read', name: 'GET /api/catalog/items/{sku}' } },
  })));
  const after = readStats('inventory');
  check(reads, { 'cold reads answered 200': (r) => r.every((x) => x.status === 200) });
  if (before && after && before.cache && after.cache) stampedeLoads.add(after.cache.loads - before.cache.loads);
}

export function teardown() {
  drillTeardown();
}

export const handleSummary = drillSummary('load-only-bugs');
