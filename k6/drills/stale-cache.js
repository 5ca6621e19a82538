// Drill stale-cache — toggle: PUT /admin/failure-modes/stale-cache (baseline off → reproduce → contain → off).
// Invariant: after a price change commits, every replica serves the new version within the staleness budget (Redis
// ≤ 1 s, in-process L1 ≤ 2 s), and an order is always charged the committed price (never a cached one), while the
// cache keeps its hit ratio. reproduce: invalidation before commit (a bare DEL), one write path that never
// invalidates, a 1 h TTL, an L1 without broadcast, readerPauseMs between a reader's DB read and its cache write.
// contain: versioned write-if-newer + tombstones, invalidation after commit (and from the outbox event), L1 broadcast
// over Redis pub/sub with an L1 TTL of 1 s, jittered TTL, prices read from PostgreSQL in a transaction.
//
//   export RELIABLESHOP_ADMIN_KEY=...        # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/stale-cache.js          # HIT_RATIO_MIN: 90 % of the reproduce hit ratio of a calibration run
//
// Workloads per phase (open model): reads — GET /api/catalog/items/{sku} on 8 hot SKUs, 80/s; changes — 1/s a price
// change of a hot SKU, then an order for it at once (charged price vs the committed one), then the item read again
// 1 s and 2.2 s after the commit. Inventory's staleness probe and hit ratio are read from /admin/stats at each phase
// end. Criteria: failure-modes.md §9. Doc: docs/failure-modes/stale-cache.md
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import { ADMIN_KEY, SERVICES, envNumber, requireAdminKey } from '../lib/config.js';
import { placeOrder } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phaseController, phasedScenarios, standardPhases } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';

export { phaseController };

requireAdminKey();

const HOT = ['SKU-0041', 'SKU-0042', 'SKU-0043', 'SKU-0044', 'SKU-0045', 'SKU-0046', 'SKU-0047', 'SKU-0048'];
const HIT_RATIO_MIN = envNumber('HIT_RATIO_MIN', 0.85); // = 0.9 × the reproduce hit ratio of a calibration run

/** Per price change: true when the item read 1 s after the commit answered an older version. */
const staleAfter1s = new Rate('stale_after_1s');
/** Per price change: true when the item read 2.2 s after the commit (past the 2 s budget) answered an older version. */
const staleBeyondBudget = new Rate('stale_beyond_budget');
/** Per order placed right after a price change: true when it was charged something else than the committed price. */
const priceMismatch = new Rate('charge_price_mismatch');
/** Per phase (from /admin/stats): (l1Hits + hits) / (l1Hits + hits + misses) of Inventory's item reads. */
const hitRatio = new Trend('cache_hit_ratio');
/** Per phase (from /admin/stats, staleness probe): commits still not served after 2 s (finished or pending). */
const probeBeyondBudget = new Counter('probe_beyond_budget');
/** Per phase (from /admin/stats, staleness probe): commits not served after 1 s (finished or pending). */
const probeAfter1s = new Counter('probe_stale_after_1s');

const ADMIN = { 'X-Admin-Key': ADMIN_KEY, 'Content-Type': 'application/json' };

function stat(stats, path) {
  return path.split('.').reduce((v, k) => (v && typeof v === 'object' ? v[k] : undefined), stats) || 0;
}

export const options = {
  scenarios: phasedScenarios({
    mode: 'stale-cache',
    parameters: { readerPauseMs: envNumber('READER_PAUSE_MS', 500), ttlSeconds: 3600 },
    phases: standardPhases({ baseline: 20, reproduce: 30, contain: 30, recovery: 20 }),
    workloads: {
      reads: { exec: 'reads', rate: 80, preAllocatedVUs: 20, maxVUs: 200 },
      changes: { exec: 'changes', rate: 1, preAllocatedVUs: 4, maxVUs: 20 },
    },
    services: ['inventory'],
    onPhaseEnd: ({ stats, tags }) => {
      const inventory = stats.inventory || {};
      const hits = stat(inventory, 'cache.l1Hits') + stat(inventory, 'cache.hits');
      const reads = hits + stat(inventory, 'cache.misses');
      if (reads > 0) hitRatio.add(hits / reads, tags);
      probeAfter1s.add(stat(inventory, 'staleness.staleAfter1s') + stat(inventory, 'staleness.pendingOver1s'), tags);
      probeBeyondBudget.add(stat(inventory, 'staleness.beyondBudget') + stat(inventory, 'staleness.pendingOverBudget'), tags);
      console.log(`phase ${tags.phase}: cache ${JSON.stringify(inventory.cache)} staleness ${JSON.stringify(inventory.staleness)}`);
    },
  }),
  thresholds: drillThresholds({
    // reproduce must SHOW the failure: ≥ 1 % of the changed keys still stale 1 s after their write …
    [inPhase('stale_after_1s', 'reproduce')]: ['rate>=0.01'],
    // … as the probe sees it too, and orders are charged the cached (old) price
    'probe_stale_after_1s{phase:reproduce}': ['count>=1'],
    [inPhase('charge_price_mismatch', 'reproduce')]: ['rate>0'],
    // contain must HOLD: 0 keys stale beyond the budget (read by the client and by the probe) …
    [inPhase('stale_beyond_budget', 'contain')]: ['rate==0'],
    'probe_beyond_budget{phase:contain}': ['count==0'],
    // … 0 charge/price mismatches (the charged price is read from PostgreSQL in a transaction) …
    [inPhase('charge_price_mismatch', 'contain')]: ['rate==0'],
    // … and the fix is not "turn the cache off": hit ratio ≥ 90 % of reproduce (absolute value from calibration)
    'cache_hit_ratio{phase:contain}': [`min>=${HIT_RATIO_MIN}`],
    // baseline and recovery: the production path is the control path
    [inPhase('charge_price_mismatch', 'baseline')]: ['rate==0'],
    [inPhase('stale_beyond_budget', 'recovery')]: ['rate==0'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '90s',
};

function getItem(sku) {
  const res = http.get(`${SERVICES.inventory}/api/catalog/items/${sku}`, { tags: { op: 'get_item', name: 'GET /api/catalog/items/{sku}' } });
  try {
    return res.status === 200 ? res.json() : null;
  } catch (e) {
    return null;
  }
}

export function setup() {
  return drillSetup();
}

export function reads() {
  getItem(HOT[Math.floor(Math.random() * HOT.length)]);
}

/** One price change of a hot SKU, an order for it at once, and the item read 1 s and 2.2 s after the commit. */
export function changes() {
  const sku = HOT[Math.floor(Math.random() * HOT.length)];
  const price = (5 + Math.floor(Math.random() * 9000) / 100).toFixed(2);
  const res = http.put(`${SERVICES.inventory}/admin/catalog/items/${sku}`, JSON.stringify({ price: Number(price) }),
    { headers: ADMIN, tags: { op: 'admin', name: 'PUT /admin/catalog/items/{sku}' } });
  if (!check(res, { 'price change committed': (r) => r.status === 200 })) return;
  const committed = res.json();
  const committedAt = Date.now();

  const placed = placeOrder({ items: [{ sku, quantity: 1 }], rejectionsExpected: true });
  if (placed.accepted && placed.order) {
    const line = (placed.order.items || []).find((l) => l.sku === sku);
    if (line) priceMismatch.add(Number(line.unitPrice) !== Number(committed.price));
  }

  sleep(Math.max(0, 1000 - (Date.now() - committedAt)) / 1000);
  const at1s = getItem(sku);
  if (at1s) staleAfter1s.add(at1s.version < committed.version);
  sleep(Math.max(0, 2200 - (Date.now() - committedAt)) / 1000);
  const at2s = getItem(sku);
  if (at2s) staleBeyondBudget.add(at2s.version < committed.version);
}

export function teardown() {
  drillTeardown();
}

export const handleSummary = drillSummary('stale-cache', {
  report: ['stale_after_1s', 'stale_beyond_budget', 'charge_price_mismatch', 'cache_hit_ratio', 'probe_stale_after_1s', 'probe_beyond_budget'],
});
