// The customer side of a drill: place an order with a fresh Idempotency-Key and follow it until it settles. Records
// the numbers the criteria are written in: goodput (2xx within the 1 s SLO), latency, admission rejections, settle time.
// Doc: k6/README.md · ../shared/design/failure-modes.md (common defaults)
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import k6crypto from 'k6/crypto';
import { CLIENT_TIMEOUT_SECONDS, ORDERING_URL, SKU_COUNT, SLO_MS } from './config.js';

/** Goodput: POST /api/orders answered 2xx within SLO_MS. Divide by orders_offered (or read goodput_ratio). */
export const goodput = new Counter('goodput');
/** Every POST /api/orders attempted, whatever its outcome: the denominator of goodput. */
export const ordersOffered = new Counter('orders_offered');
/** Per offered order: true when it counted as goodput. Per phase: goodput_ratio{phase:contain,window:steady}. */
export const goodputRatio = new Rate('goodput_ratio');
/** Duration of every POST /api/orders that got an answer (any status). */
export const orderLatency = new Trend('order_latency', true);
/** Admission said no (429 or 503 with Retry-After): load shed on purpose, not an error of the control. */
export const orderRejections = new Counter('order_rejections');
/** How fast a rejection comes back; a shed request must be cheap (criteria: ≤ 20–50 ms). */
export const rejectionLatency = new Trend('rejection_latency', true);
/** Per accepted order that was followed: true when it reached Confirmed or Cancelled before the deadline. */
export const ordersSettled = new Rate('orders_settled');
/** From the 2xx of POST /api/orders to the first GET that shows Confirmed or Cancelled. */
export const settleTime = new Trend('settle_time', true);

export const SETTLED_STATUSES = Object.freeze(['Confirmed', 'Cancelled']);

// A 2xx is an accepted order; 429/503 are admission answers. Drills that expect shedding mark those as expected so
// http_req_failed only counts what the client could not explain (timeouts, 500s, resets).
const ACCEPTED_ONLY = http.expectedStatuses({ min: 200, max: 299 });
const ACCEPTED_OR_SHED = http.expectedStatuses({ min: 200, max: 299 }, 429, 503);
const READ_OK = http.expectedStatuses({ min: 200, max: 299 });

function hex(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return s;
}

/** A fresh UUID v4: the global WebCrypto crypto.randomUUID() where k6 has it, else built from k6/crypto bytes. */
export function newIdempotencyKey() {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = new Uint8Array(k6crypto.randomBytes(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** SKU-0001 … SKU-<SKU_COUNT>, uniformly. */
export function randomSku() {
  const n = 1 + Math.floor(Math.random() * SKU_COUNT);
  return `SKU-${String(n).padStart(4, '0')}`;
}

function parse(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

/**
 * POST /api/orders with a fresh Idempotency-Key (or the one given, to replay on purpose).
 *   options.customerId, options.items         the body; default one unit of a random SKU for customer k6-<vu>
 *   options.idempotencyKey                     reuse a key to test replays
 *   options.tags                               extra tags; phase and window come from the scenario (lib/phases.js)
 *   options.rejectionsExpected                 true in overload drills: 429/503 do not count in http_req_failed
 * Returns {res, order, accepted, rejected, withinSlo, retryAfter, idempotencyKey}.
 */
export function placeOrder(options) {
  const o = options || {};
  const idempotencyKey = o.idempotencyKey || newIdempotencyKey();
  const body = JSON.stringify({
    customerId: o.customerId || `k6-${__VU}`,
    items: o.items || [{ sku: randomSku(), quantity: 1 }],
  });
  const tags = Object.assign({ op: 'place_order', name: 'POST /api/orders' }, o.tags || {});
  const res = http.post(`${ORDERING_URL}/api/orders`, body, {
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
    tags,
    timeout: `${CLIENT_TIMEOUT_SECONDS}s`,
    responseCallback: o.rejectionsExpected ? ACCEPTED_OR_SHED : ACCEPTED_ONLY,
  });

  const accepted = res.status >= 200 && res.status < 300;
  const rejected = res.status === 429 || res.status === 503;
  const withinSlo = accepted && res.timings.duration <= SLO_MS;
  const metricTags = Object.assign({}, o.tags || {});

  ordersOffered.add(1, metricTags);
  goodputRatio.add(withinSlo, metricTags);
  if (withinSlo) goodput.add(1, metricTags);
  if (res.status !== 0) orderLatency.add(res.timings.duration, metricTags);
  if (rejected) {
    orderRejections.add(1, Object.assign({ status: String(res.status) }, metricTags));
    rejectionLatency.add(res.timings.duration, metricTags);
  }

  const order = accepted ? parse(res) : null;
  check(
    res,
    o.rejectionsExpected
      ? { 'order accepted, or shed with Retry-After': () => accepted || (rejected && !!res.headers['Retry-After']) }
      : { 'order accepted (2xx)': () => accepted },
    tags,
  );
  return { res, order, accepted, rejected, withinSlo, retryAfter: res.headers['Retry-After'] || null, idempotencyKey };
}

/** GET /api/orders/{id}; the returned order has status and history. Tagged op:get_order (a route that never calls Payment). */
export function getOrder(id, tags) {
  const res = http.get(`${ORDERING_URL}/api/orders/${id}`, {
    tags: Object.assign({ op: 'get_order', name: 'GET /api/orders/{id}' }, tags || {}),
    timeout: `${CLIENT_TIMEOUT_SECONDS}s`,
    responseCallback: READ_OK,
  });
  return { res, order: res.status === 200 ? parse(res) : null };
}

/**
 * Polls GET /api/orders/{id} until the order is Confirmed or Cancelled, or deadlineSeconds pass.
 * Records orders_settled (true/false) and settle_time; returns {settled, status, elapsedMs}.
 */
export function awaitSettled(id, options) {
  const o = options || {};
  const deadlineMs = (o.deadlineSeconds || 30) * 1000;
  const pollSeconds = o.pollSeconds || 0.25;
  const started = Date.now();
  let status = null;
  for (;;) {
    const { order } = getOrder(id, o.tags);
    status = order ? order.status : status;
    if (SETTLED_STATUSES.includes(status)) break;
    if (Date.now() - started >= deadlineMs) break;
    sleep(pollSeconds);
  }
  const elapsedMs = Date.now() - started;
  const settled = SETTLED_STATUSES.includes(status);
  const metricTags = Object.assign({}, o.tags || {});
  ordersSettled.add(settled, metricTags);
  if (settled) settleTime.add(elapsedMs, metricTags);
  check(status, { 'order settled (Confirmed or Cancelled)': () => settled }, o.tags || {});
  return { settled, status, elapsedMs };
}
