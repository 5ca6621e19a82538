// The admin side of a drill, behind X-Admin-Key: failure-mode toggles (any service; they share one store), per-phase
// stats, and the invariant read that decides a run. Every admin request is tagged op:admin so it never counts
// against thresholds written for the order traffic. Doc: k6/README.md · docs/failure-modes/README.md
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { ADMIN_KEY, ORDERING_URL, SERVICES, serviceUrl } from './config.js';

/** 1 sample per invariant read: true when GET /admin/invariants answered with total == 0. */
export const invariantsHold = new Rate('invariants_hold');
/** Sum of violations, tagged invariant:<name> per invariant; must stay 0. */
export const invariantViolations = new Counter('invariant_violations');
/** How many invariant reads completed; guards against a run that "passes" because teardown never read them. */
export const invariantChecks = new Counter('invariant_checks');
/** 1 sample per phase flip: true when the mode reached the wanted state on every service it affects. */
export const toggleApplied = new Rate('toggle_applied');
/** Time from the PUT until every affected service reported the new state (the store syncs within ~1 s). */
export const togglePropagation = new Trend('toggle_propagation', true);

/** Thresholds every drill spreads into its options: these ARE the "the system stayed correct" half of a drill. */
export const INVARIANT_THRESHOLDS = Object.freeze({
  invariants_hold: ['rate==1'], // the final invariant read found no violation
  invariant_violations: ['count==0'], // no invariant counted a single violation
  invariant_checks: ['count>=1'], // the read actually happened: no vacuous pass when teardown could not run it
});

/** Thresholds for drills that flip a toggle: a drill whose fault never switched on proves nothing. */
export const TOGGLE_THRESHOLDS = Object.freeze({
  toggle_applied: ['rate==1'], // every phase boundary reached its state on every affected service
});

const ADMIN_OK = http.expectedStatuses({ min: 200, max: 299 });
const MODE_STATES = ['off', 'reproduce', 'contain'];

function params(tags) {
  return {
    headers: { 'X-Admin-Key': ADMIN_KEY, 'Content-Type': 'application/json', Accept: 'application/json' },
    tags: Object.assign({ op: 'admin' }, tags || {}),
    responseCallback: ADMIN_OK,
    timeout: '10s',
  };
}

function json(res) {
  try {
    return res.json();
  } catch (e) {
    return null;
  }
}

/** "state: must be one of …; parameters.retries: 11 is out of range [0, 10]" from a ValidationProblem body. */
function problemText(res) {
  const body = json(res);
  if (body && body.errors) {
    return Object.keys(body.errors).map((field) => `${field}: ${[].concat(body.errors[field]).join(' ')}`).join('; ');
  }
  return `HTTP ${res.status}${res.error ? ` (${res.error})` : ''}`;
}

/**
 * Stops the run in setup() when the key is wrong: the AppHost makes a new key on every start, so an old export
 * is the usual cause. Without this, every drill would fail with 401s and a misleading "the control failed".
 */
export function verifyAdminKey() {
  const res = http.get(`${ORDERING_URL}/admin/failure-modes`, params({ name: 'GET /admin/failure-modes' }));
  if (res.status === 401) {
    exec.test.abort(
      'Ordering answered 401 to X-Admin-Key: the AppHost generates a new key each time it starts. ' +
        'Copy the fresh "export RELIABLESHOP_ADMIN_KEY=..." line from its console and run k6 again.',
    );
  }
  if (res.status !== 200) {
    exec.test.abort(`GET ${ORDERING_URL}/admin/failure-modes answered ${problemText(res)}: is the AppHost running (infra/run.sh)?`);
  }
}

/** Every mode as the store sees it, from one service: [{id, title, state, parameters, services, doc, …}]. */
export function listModes(service) {
  const res = http.get(`${serviceUrl(service || 'ordering')}/admin/failure-modes`, params({ name: 'GET /admin/failure-modes' }));
  return res.status === 200 ? json(res) || [] : [];
}

/** The modes that are not off, as "id=state" strings (what the Degraded health entry names too). */
export function activeModes(service) {
  return listModes(service)
    .filter((m) => m.state !== 'off')
    .map((m) => `${m.id}=${m.state}`);
}

function modeState(service, id) {
  const mode = listModes(service).find((m) => m.id === id);
  return mode ? mode.state : null;
}

/** Polls every affected service until it reports the wanted state; the replica that took the PUT already does. */
function awaitPropagation(id, state, services, timeoutSeconds) {
  const started = Date.now();
  const pending = services.filter((s) => SERVICES[s]);
  while (pending.length > 0 && Date.now() - started < timeoutSeconds * 1000) {
    for (let i = pending.length - 1; i >= 0; i--) {
      if (modeState(pending[i], id) === state) pending.splice(i, 1);
    }
    if (pending.length > 0) sleep(0.2);
  }
  togglePropagation.add(Date.now() - started, { mode: id, state });
  return pending;
}

/**
 * Puts a failure mode in a state with optional parameter overrides (catalogue defaults otherwise), then waits until
 * every service the mode affects reports it. Returns {ok, mode, problem}; ok is false on a 400 (unknown id, unknown
 * parameter, out-of-range value — the store is then unchanged) or when propagation did not finish in time.
 */
export function flipMode(id, state, parameters, options) {
  if (!MODE_STATES.includes(state)) throw new Error(`state '${state}' is not one of ${MODE_STATES.join(', ')}`);
  const timeoutSeconds = (options && options.propagationSeconds) || 5;
  const body = JSON.stringify({ state, parameters: parameters || {} });
  const res = http.put(`${ORDERING_URL}/admin/failure-modes/${id}`, body, params({ name: 'PUT /admin/failure-modes/{id}' }));
  const mode = res.status === 200 ? json(res) : null;
  let problem = mode ? null : problemText(res);
  if (mode) {
    const lagging = awaitPropagation(id, state, mode.services || [], timeoutSeconds);
    if (lagging.length > 0) problem = `still not ${state} after ${timeoutSeconds} s on: ${lagging.join(', ')}`;
  }
  const ok = problem === null;
  toggleApplied.add(ok, { mode: id, state });
  check(res, { [`failure mode ${id} → ${state} on every affected service`]: () => ok }, { op: 'admin' });
  return { ok, mode, problem };
}

/** DELETE /admin/failure-modes/{id}: back to off (the protected path, no fault), confirmed on every affected service. */
export function modeOff(id, options) {
  const res = http.del(`${ORDERING_URL}/admin/failure-modes/${id}`, null, params({ name: 'DELETE /admin/failure-modes/{id}' }));
  const mode = res.status === 200 ? json(res) : null;
  let problem = mode ? null : problemText(res);
  if (mode) {
    const timeoutSeconds = (options && options.propagationSeconds) || 5;
    const lagging = awaitPropagation(id, 'off', mode.services || [], timeoutSeconds);
    if (lagging.length > 0) problem = `still not off after ${timeoutSeconds} s on: ${lagging.join(', ')}`;
  }
  const ok = problem === null;
  toggleApplied.add(ok, { mode: id, state: 'off' });
  return { ok, mode, problem };
}

/** POST /admin/failure-modes/reset: every mode off. Used by setup() and teardown() so a run leaves nothing on. */
export function resetModes() {
  const res = http.post(`${ORDERING_URL}/admin/failure-modes/reset`, null, params({ name: 'POST /admin/failure-modes/reset' }));
  check(res, { 'every failure mode reset to off': (r) => r.status === 200 }, { op: 'admin' });
  return res.status === 200;
}

/** POST {service}/admin/stats/reset: zero that service's drill counters, so the next phase counts from 0. */
export function resetStats(service) {
  const res = http.post(`${serviceUrl(service)}/admin/stats/reset`, null, params({ name: 'POST /admin/stats/reset', service }));
  return res.status >= 200 && res.status < 300;
}

/** GET {service}/admin/stats: {"service", "<section>": {...}, ...} (sections per pattern), or null when unreadable. */
export function readStats(service) {
  const res = http.get(`${serviceUrl(service)}/admin/stats`, params({ name: 'GET /admin/stats', service }));
  return res.status === 200 ? json(res) : null;
}

/**
 * Reads GET {ordering}/admin/invariants until total == 0 or settleSeconds pass, then records the last answer.
 * Some invariants are "after settling" (an outbox row still pending, a reservation not yet confirmed): polling lets
 * them converge; a real violation (stock below zero, two captures for one order) never returns to 0, so it fails.
 * Call it from teardown(); the thresholds in INVARIANT_THRESHOLDS turn the answer into the run's exit code.
 */
export function checkInvariants(options) {
  const settleSeconds = (options && options.settleSeconds) || 30;
  const started = Date.now();
  let report = null;
  for (;;) {
    const res = http.get(`${ORDERING_URL}/admin/invariants?settleSeconds=0`, params({ name: 'GET /admin/invariants' }));
    report = res.status === 200 ? json(res) : null;
    if (report && report.total === 0) break;
    if (Date.now() - started >= settleSeconds * 1000) break;
    sleep(1);
  }

  const readable = report !== null && typeof report.total === 'number';
  const hold = readable && report.total === 0;
  invariantChecks.add(readable ? 1 : 0);
  invariantsHold.add(hold);
  const names = readable && report.violations ? Object.keys(report.violations) : [];
  if (names.length > 0) {
    names.forEach((name) => invariantViolations.add(Number(report.violations[name]) || 0, { invariant: name }));
  } else {
    invariantViolations.add(readable ? report.total : 0); // always one sample, so the threshold has data
  }
  check(report, { 'invariants hold (GET /admin/invariants total == 0)': () => hold }, { op: 'admin' });
  if (!hold) {
    console.error(
      readable
        ? `invariants violated after ${settleSeconds} s: ${JSON.stringify(report.violations)}`
        : 'GET /admin/invariants could not be read: the run cannot prove the system stayed correct',
    );
  }
  return report;
}
