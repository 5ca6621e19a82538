// Where the drills point and with which key: base URLs, the admin key and the SLO, all from the environment, with
// the AppHost's defaults. A drill that needs the admin key stops before its first request when the key is missing.
// Doc: k6/README.md

/** Reads a positive number from the environment; a typo stops the run instead of silently using the default. */
export function envNumber(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name}=${raw} is not a positive number`);
  }
  return value;
}

function baseUrl(name, fallback) {
  return (__ENV[name] || fallback).replace(/\/+$/, '');
}

/** The three services of the running AppHost (infra/run.sh); override with ORDERING_URL, INVENTORY_URL, PAYMENT_URL. */
export const SERVICES = Object.freeze({
  ordering: baseUrl('ORDERING_URL', 'http://localhost:5100'),
  inventory: baseUrl('INVENTORY_URL', 'http://localhost:5200'),
  payment: baseUrl('PAYMENT_URL', 'http://localhost:5300'),
});

export const ORDERING_URL = SERVICES.ordering;

/** The admin key the AppHost generates per run and prints as `export RELIABLESHOP_ADMIN_KEY=...`. */
export const ADMIN_KEY = __ENV.RELIABLESHOP_ADMIN_KEY || '';

/** SLO of POST /api/orders: a 2xx within 1 s counts as goodput (../shared/design/failure-modes.md, common defaults). */
export const SLO_MS = envNumber('SLO_MS', 1000);

/** The client's own deadline per request; longer than the service's end-to-end deadline on purpose. */
export const CLIENT_TIMEOUT_SECONDS = envNumber('CLIENT_TIMEOUT_SECONDS', 10);

/** Number of catalog SKUs seeded by Inventory: SKU-0001 … SKU-0060. */
export const SKU_COUNT = envNumber('SKU_COUNT', 60);

export function serviceUrl(service) {
  const url = SERVICES[service];
  if (!url) throw new Error(`unknown service '${service}'; known: ${Object.keys(SERVICES).join(', ')}`);
  return url;
}

/**
 * Call from the init context of every script that touches /admin: the run stops at once (before any VU starts)
 * with a message saying where the key comes from, instead of failing later with a wall of 401s.
 */
export function requireAdminKey() {
  if (ADMIN_KEY === '') {
    throw new Error(
      'RELIABLESHOP_ADMIN_KEY is not set. Start the system with infra/run.sh, copy the line ' +
        '"export RELIABLESHOP_ADMIN_KEY=..." it prints, run it in this shell, then start k6 again.',
    );
  }
}

/** Ordering replicas the AppHost runs (infra/run.sh); drills that count per-replica limits read it. */
export const ORDERING_REPLICAS = envNumber('ORDERING_REPLICAS', 1);

/**
 * Seconds for a PaymentPending backlog of up to `pendingMax` orders to be authorized, plus `marginSeconds`: the
 * authorize jobs start at most AUTHORIZE_RATE_PER_REPLICA a second per replica (Jobs:KindRatePerSecond in
 * services/Ordering/appsettings.json, default 3), so the backlog of a long fallback drains at that pace, not at once.
 */
export function backlogSettleSeconds(pendingMax, marginSeconds = 60) {
  const perSecond = envNumber('AUTHORIZE_RATE_PER_REPLICA', 3) * ORDERING_REPLICAS;
  return Math.ceil(pendingMax / perSecond) + marginSeconds;
}
