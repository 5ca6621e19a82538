// Drill overload, the asynchronous half — toggle: PUT /admin/failure-modes/overload (prefetch from the catalogue).
// Invariant: a backlog of OrderPlaced events enters Inventory only as far as its consumer limits allow — in contain never
// more than Reservations:ConcurrencyLimit reservations at once, the rest waiting at the broker — and orders placed while
// it drains are answered within the SLO; GET /admin/invariants reports total == 0 once the system has settled.
//
//   export RELIABLESHOP_ADMIN_KEY=...                      # printed by the AppHost (infra/run.sh)
//   k6 run k6/drills/overload-backlog.js
//
// The backlog is made the way a deploy or a consumer outage makes one: in each fault phase Inventory's consumer is
// paused (POST /admin/reservations/pause) while orders keep being placed, so their OrderPlaced events wait at the
// broker; then it resumes (POST /admin/reservations/resume) under the phase's limits while orders keep coming.
//   reproduce: prefetch 1000, no concurrency limit → the whole backlog is in flight in Inventory at once;
//   contain:   prefetch = concurrency = the limit   → at most LIMIT in flight, the rest drains from the broker.
//
// Timeline (open model, RATE orders/s throughout):
//   0 ──── 10 ─────────────────────────────────── 50 ─────────────────────────────────── 90 ──── 100 s
//   ◆ off  ◆ reproduce  ▮pause 12 ▶resume 30       ◆ contain  ▮pause 52 ▶resume 70        ◆ off
// After each resume the controller waits for the drain (inFlight 0 on Inventory), then records the peak of reservations
// in flight since the resume (reservations_peak_in_flight, tagged with the phase). Product-page views (POST
// /api/catalog/items/{sku}/views, VIEW_RATE/s in the fault phases) go through Inventory's in-process channel, written
// behind on the same pool: unbounded in reproduce, bounded by channelCapacity in contain (full → 503 + Retry-After);
// the controller records its peak too (views_peak_queued).
//
// Criteria (thresholds below):
//   reproduce → reservations in flight at some moment > 2 × LIMIT (the backlog was not held back)
//   contain   → reservations in flight never > LIMIT; placements p99 ≤ 1 s and ≥ 99 % answered 2xx in the phase;
//               views queued never > CHANNEL_CAPACITY, and a refused view answered at once (p99 ≤ 20 ms)
//   always    → dropped_iterations == 0, every toggle applied, both drains observed, invariants hold.
// Environment: RATE=15 (orders/s, half of C or less: the overload drill measures C, 30–45/s on a 2-core host in its runs of 2026-12-07), LIMIT=16 (Reservations:ConcurrencyLimit of
// services/Inventory/appsettings.json), VIEW_RATE=100, CHANNEL_CAPACITY=100 (the catalogue's channelCapacity), plus
// the variables of k6/README.md. The .NET drill test with the same shape:
// tests/System.Tests/Drills/OverloadBacklogDrillTests.cs. Doc: docs/failure-modes/overload.md
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { envNumber, requireAdminKey, serviceUrl, ADMIN_KEY } from '../lib/config.js';
import { readStats, resetStats } from '../lib/admin.js';
import { placeOrder, randomSku } from '../lib/orders.js';
import { drillSetup, drillTeardown, drillThresholds, inPhase, phasedScenarios } from '../lib/phases.js';
import { SUMMARY_TREND_STATS, drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const MODE = 'overload';
const RATE = envNumber('RATE', 15);
const LIMIT = envNumber('LIMIT', 16);
const VIEW_RATE = envNumber('VIEW_RATE', 100);
const CHANNEL_CAPACITY = envNumber('CHANNEL_CAPACITY', 100);
const PAUSE_AFTER_SECONDS = 2; // into a fault phase: the consumer has reconnected with the phase's limits
const RESUME_AFTER_SECONDS = 20; // 18 s of orders wait at the broker: ≈ 18 × RATE OrderPlaced
const DRAIN_WAIT_SECONDS = 15;

// A fault phase's judged (steady) window is its drain: from the resume on. Before it, the consumer is paused.
const PHASES = [
  { name: 'baseline', state: 'off', seconds: 10, transitionSeconds: 0 },
  { name: 'reproduce', state: 'reproduce', seconds: 40, transitionSeconds: RESUME_AFTER_SECONDS },
  { name: 'contain', state: 'contain', seconds: 40, transitionSeconds: RESUME_AFTER_SECONDS },
  { name: 'recovery', state: 'off', seconds: 10, transitionSeconds: 0 },
];

/** Peak of reservations in flight on Inventory between a resume and the end of its drain, one sample per fault phase. */
const peakInFlight = new Trend('reservations_peak_in_flight');
/** Peak of views queued in Inventory's channel between a resume and the end of its drain, one sample per fault phase. */
const viewsPeakQueued = new Trend('views_peak_queued');
/** Latency of views refused by a full channel (503): a refusal must be the cheapest answer. */
const viewRejectionLatency = new Trend('view_rejection_latency', true);
const VIEW_OK = http.expectedStatuses(202, 503);
/** Drains observed (inFlight back to 0 in time): 2, or the peak above was read mid-drain and means less. */
const drains = new Counter('backlog_drains');

const scenarios = phasedScenarios({
  mode: MODE,
  parameters: { channelCapacity: CHANNEL_CAPACITY }, // what the thresholds judge against is what the system runs with
  phases: PHASES,
  services: ['ordering', 'inventory'],
  workloads: {
    writes: { exec: 'writes', rate: RATE },
    views: { exec: 'views', rate: (phase) => (phase.state === 'off' ? 0 : VIEW_RATE) },
  },
});
let offset = 0;
PHASES.forEach((phase) => {
  if (phase.state !== 'off') {
    // One iteration each, at fixed seconds of the phase: k6's documented way to act at a given time.
    scenarios[`pause_${phase.name}`] = oneShot('pauseConsumer', offset + PAUSE_AFTER_SECONDS);
    scenarios[`resume_${phase.name}`] = oneShot('resumeAndDrain', offset + RESUME_AFTER_SECONDS);
  }
  offset += phase.seconds;
});

function oneShot(fn, startSeconds) {
  return {
    executor: 'per-vu-iterations',
    vus: 1,
    iterations: 1,
    startTime: `${startSeconds}s`,
    maxDuration: `${DRAIN_WAIT_SECONDS + 15}s`,
    exec: fn,
    tags: { role: 'controller' }, // no phase tag: admin calls never count in a phase's numbers
  };
}

export const options = {
  scenarios,
  thresholds: drillThresholds({
    // reproduce must SHOW it: the backlog enters at once, far more reservations in flight than the limit
    [inPhase('reservations_peak_in_flight', 'reproduce')]: [`max>${2 * LIMIT}`],
    // contain must HOLD it: never more reservations in flight than the limit ("queues within bounds") …
    [inPhase('reservations_peak_in_flight', 'contain')]: [`max<=${LIMIT}`],
    // … and what is placed meanwhile is answered within the SLO (the .NET drill, on 2 shared cores with generator and
    // servers on them, allows the SLO plus the p99 of a no-work POST /alive probed beside the drain: 89–150 ms there)
    [inPhase('order_latency', 'contain')]: ['p(99)<=1000'],
    [inPhase('goodput_ratio', 'contain')]: ['rate>=0.99'],
    // … and Inventory's view channel stays within its bound, its refusals cheap
    [inPhase('views_peak_queued', 'contain')]: [`max<=${CHANNEL_CAPACITY}`],
    // (refusals happen only when the writer falls behind, which k6 cannot force: the .NET drill stalls the writer's
    // table for 3 s and judges that the excess is refused; here a refusal, when there is one, must be cheap)
    [inPhase('view_rejection_latency', 'contain')]: ['p(99)<=20'],
    // every view answered 202 or 503 (VIEW_OK), in every phase
    'http_req_failed{op:view}': ['rate==0'],
    // both drains were observed to the end: the peaks are whole
    backlog_drains: ['count==2'],
  }),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '120s',
};

export function setup() {
  return drillSetup();
}

export function writes() {
  placeOrder();
}

/** One product-page view: 202 queued, 503 + Retry-After when the channel is full. */
export function views() {
  const res = http.post(`${serviceUrl('inventory')}/api/catalog/items/${randomSku()}/views`, null, {
    tags: { op: 'view', name: 'POST /api/catalog/items/{sku}/views' },
    timeout: '10s',
    responseCallback: VIEW_OK,
  });
  if (res.status === 503) viewRejectionLatency.add(res.timings.duration);
}

function reservationsAdmin(action) {
  const res = http.post(`${serviceUrl('inventory')}/admin/reservations/${action}`, null, {
    headers: { 'X-Admin-Key': ADMIN_KEY },
    tags: { op: 'admin', name: `POST /admin/reservations/${action}` },
    timeout: '30s',
  });
  if (res.status !== 200) exec.test.abort(`POST /admin/reservations/${action} answered ${res.status}`);
}

/** Stops Inventory's OrderPlaced consumer: the orders placed from now on leave their events at the broker. */
export function pauseConsumer() {
  reservationsAdmin('pause');
}

/** Zeroes Inventory's stats (the peak), resumes the consumer, waits for the drain, records the peak. */
export function resumeAndDrain() {
  const phase = exec.scenario.name.replace(/^resume_/, '');
  resetStats('inventory');
  reservationsAdmin('resume');
  const deadline = Date.now() + DRAIN_WAIT_SECONDS * 1000;
  let stats = null;
  do {
    sleep(0.5);
    stats = readStats('inventory'); // may wait while reproduce starves Inventory's pool: that is the failure
  } while ((stats === null || stats.reservations.inFlight > 0) && Date.now() < deadline);
  if (stats === null) return;
  if (phase === 'contain' && (stats.reservations.concurrencyLimit !== LIMIT || stats.catalogViews.bound !== CHANNEL_CAPACITY)) {
    exec.test.abort(`contain runs with concurrency limit ${stats.reservations.concurrencyLimit} and view bound ` +
      `${stats.catalogViews.bound}; this run judges LIMIT=${LIMIT}, CHANNEL_CAPACITY=${CHANNEL_CAPACITY}: set them to match`);
  }
  if (stats.reservations.inFlight === 0) drains.add(1);
  peakInFlight.add(stats.reservations.peakInFlight, { phase, window: 'steady' });
  viewsPeakQueued.add(stats.catalogViews.peakQueued, { phase, window: 'steady' });
  console.log(`${phase}: reservations in flight at most ${stats.reservations.peakInFlight} (prefetch ${stats.reservations.prefetch}, ` +
    `concurrency limit ${stats.reservations.concurrencyLimit === null ? 'none' : stats.reservations.concurrencyLimit}); ` +
    `views queued at most ${stats.catalogViews.peakQueued} (bound ${stats.catalogViews.bound === null ? 'none' : stats.catalogViews.bound})`);
}

export function teardown() {
  reservationsAdmin('resume'); // never leave the consumer paused
  drillTeardown({ settleSeconds: 60 });
}

export const handleSummary = drillSummary(`${MODE} backlog (RATE=${RATE}, LIMIT=${LIMIT})`, {
  report: ['orders_offered', 'goodput', 'order_latency', 'reservations_peak_in_flight', 'views_peak_queued', 'view_rejection_latency', 'backlog_drains'],
});
