// Smoke run — toggle: none (setup turns every failure mode off; see docs/failure-modes/README.md for the toggles).
// Invariant: every order placed with a fresh Idempotency-Key is accepted (2xx) and settles — Confirmed or Cancelled —
// within SETTLE_DEADLINE_SECONDS, and GET /admin/invariants reports total == 0 once the system has settled.
//
//   export RELIABLESHOP_ADMIN_KEY=...   # printed by the AppHost (infra/run.sh)
//   k6 run k6/smoke.js                  # SMOKE_RATE=2 orders/s for SMOKE_SECONDS=15 s → 30 orders
//
// Each iteration places one order and follows it to the end; an open-model executor keeps the arrival rate fixed
// however slow the answers are. Doc: k6/README.md
import { check } from 'k6';
import { envNumber, requireAdminKey } from './lib/config.js';
import { INVARIANT_THRESHOLDS, activeModes, checkInvariants, resetModes, verifyAdminKey } from './lib/admin.js';
import { awaitSettled, placeOrder } from './lib/orders.js';
import { SUMMARY_TREND_STATS, drillSummary } from './lib/summary.js';

requireAdminKey(); // teardown reads /admin/invariants: without the key the run could never pass

const RATE = envNumber('SMOKE_RATE', 2); // orders started per second
const SECONDS = envNumber('SMOKE_SECONDS', 15);
const DEADLINE = envNumber('SETTLE_DEADLINE_SECONDS', 30); // placement → Confirmed|Cancelled, per order
if (!Number.isInteger(RATE) || !Number.isInteger(SECONDS)) throw new Error('SMOKE_RATE and SMOKE_SECONDS must be whole numbers');

export const options = {
  scenarios: {
    smoke: {
      executor: 'constant-arrival-rate',
      exec: 'placeAndSettle',
      rate: RATE,
      timeUnit: '1s',
      duration: `${SECONDS}s`,
      preAllocatedVUs: Math.max(2, RATE * 2),
      maxVUs: RATE * (DEADLINE + 15), // every order of the deadline window may be waiting at once
      gracefulStop: `${DEADLINE + 15}s`, // the last orders get their full deadline to settle
      tags: { phase: 'smoke' },
    },
  },
  thresholds: Object.assign(
    {
      http_req_failed: ['rate<0.01'], // fewer than 1 % of requests (orders, polls, admin) failed or timed out
      orders_settled: ['rate==1'], // every accepted order reached Confirmed or Cancelled before its deadline
      orders_offered: ['count>0'], // the smoke placed orders at all (no vacuous pass)
      dropped_iterations: ['count==0'], // k6 started every planned order: the offered load is the one written above
    },
    INVARIANT_THRESHOLDS, // GET /admin/invariants: total == 0, read at least once
  ),
  summaryTrendStats: SUMMARY_TREND_STATS,
  teardownTimeout: '90s', // checkInvariants waits up to 30 s for in-flight work to settle
};

export function setup() {
  verifyAdminKey();
  const active = activeModes();
  if (active.length > 0) {
    console.warn(`smoke runs on a healthy system: turning off ${active.join(', ')}`);
    check(null, { 'every failure mode off before the smoke': () => resetModes() }, { op: 'admin' });
  }
}

export function placeAndSettle() {
  const placed = placeOrder();
  if (!placed.accepted || !placed.order || !placed.order.id) return; // counted by http_req_failed and the check
  awaitSettled(placed.order.id, { deadlineSeconds: DEADLINE });
}

export function teardown() {
  checkInvariants({ settleSeconds: 30 });
}

const summary = drillSummary('smoke', {
  report: ['orders_offered', 'goodput', 'goodput_ratio', 'order_latency', 'settle_time'],
});

export function handleSummary(data) {
  return summary(data);
}
