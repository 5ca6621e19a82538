// The phase model of a drill: baseline → reproduce → contain → recovery on one timeline, each phase its own set of
// scenarios (open-model load tagged phase:<name>) plus a one-iteration "controller" scenario that starts exactly at the
// phase boundary and flips the toggle. k6 runs code only at iteration starts, so a scenario with startTime is the
// one documented way to act at a given second; setup() runs once, before the timeline. Doc: k6/README.md#phase-model
//
//   time ─▶  0 ───────────── 20 ─────────────────── 60 ─────────────────── 100 ─────────────── 130 s
//   control  ◆ off            ◆ reproduce             ◆ contain               ◆ off
//   load     [baseline steady][transition|reproduce steady][transition|contain steady][transition|recovery steady]
//
// Each phase's load is split into a short `transition` window (the toggle propagates, queues fill or drain) and the
// `steady` window the thresholds judge: 'http_req_duration{phase:contain,window:steady}'. The recovery phase's
// transition IS the recovery criterion ("back to baseline within 10 s"): its steady window must meet baseline numbers.
import exec from 'k6/execution';
import { CLIENT_TIMEOUT_SECONDS } from './config.js';
import {
  INVARIANT_THRESHOLDS,
  TOGGLE_THRESHOLDS,
  checkInvariants,
  flipMode,
  modeOff,
  readStats,
  resetModes,
  resetStats,
  verifyAdminKey,
} from './admin.js';

/** The name of the exec function the controller scenarios call; re-export it from the drill script. */
export const CONTROLLER_EXEC = 'phaseController';

const STATES = ['off', 'reproduce', 'contain'];
const NAME = /^[a-z][a-z0-9_]*$/;
let plan = null; // set in the init context of every VU by phasedScenarios(); read by the controller and teardown

/**
 * The default timeline, lengths in whole seconds (timeouts-cascade: baseline 20, fault 40, recovery 30).
 * transition: seconds judged by no threshold after each flip into a fault state; recoveryTransition: after the fault ends.
 */
export function standardPhases(lengths) {
  const l = Object.assign(
    { baseline: 20, reproduce: 40, contain: 40, recovery: 30, transition: 3, recoveryTransition: 10 },
    lengths || {},
  );
  return [
    { name: 'baseline', state: 'off', seconds: l.baseline, transitionSeconds: 0 },
    { name: 'reproduce', state: 'reproduce', seconds: l.reproduce, transitionSeconds: l.transition },
    { name: 'contain', state: 'contain', seconds: l.contain, transitionSeconds: l.transition },
    { name: 'recovery', state: 'off', seconds: l.recovery, transitionSeconds: l.recoveryTransition },
  ];
}

function wholeSeconds(value, what) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`${what} must be a whole number of seconds, got ${value}`);
  return value;
}

/** k6 wants an integer rate per timeUnit: 2.5/s becomes 150 per minute. */
function arrival(ratePerSecond) {
  return Number.isInteger(ratePerSecond)
    ? { rate: ratePerSecond, timeUnit: '1s' }
    : { rate: Math.round(ratePerSecond * 60), timeUnit: '1m' };
}

function loadScenario(workload, w, phase, window, startSeconds, seconds, ratePerSecond) {
  const preAllocatedVUs = w.preAllocatedVUs || Math.max(2, Math.ceil(ratePerSecond));
  // Open model: a slow system must not slow the arrivals down, so allow enough VUs for every request of the client
  // timeout window to be in flight at once; otherwise k6 drops iterations (dropped_iterations must stay 0).
  const maxVUs = w.maxVUs || Math.max(preAllocatedVUs, Math.ceil(ratePerSecond * (CLIENT_TIMEOUT_SECONDS + 1)));
  return Object.assign(
    {
      executor: 'constant-arrival-rate',
      exec: w.exec,
      duration: `${seconds}s`,
      startTime: `${startSeconds}s`,
      preAllocatedVUs,
      maxVUs,
      gracefulStop: w.gracefulStop || `${CLIENT_TIMEOUT_SECONDS + 5}s`, // in-flight requests finish, keeping their phase tag
      tags: { phase: phase.name, window, workload },
    },
    arrival(ratePerSecond),
  );
}

/**
 * Builds options.scenarios for a drill and registers the plan the controller follows. Call it once, at module level.
 *   spec.mode         the failure-mode id the controller flips ('timeouts-cascade', …)
 *   spec.parameters   parameter overrides for every fault phase (catalogue defaults otherwise); a phase may add its own
 *   spec.phases       [{name, state: off|reproduce|contain, seconds, transitionSeconds, parameters}] — standardPhases()
 *   spec.workloads    {writes: {exec: 'writes', rate: 50 | (phase) => n, preAllocatedVUs, maxVUs}, reads: {…}}
 *                     one constant-arrival-rate scenario per workload × phase × window; a rate of 0 skips the phase
 *   spec.services     services whose /admin/stats are read at the end of each phase and reset at its start
 *   spec.onPhaseEnd   ({phase, state, stats, tags}) => void: turn a phase's stats into metrics (tags = {phase})
 */
export function phasedScenarios(spec) {
  if (!spec || typeof spec.mode !== 'string') throw new Error('phasedScenarios needs spec.mode, a failure-mode id');
  let offset = 0;
  const phases = spec.phases.map((p) => {
    if (!NAME.test(p.name)) throw new Error(`phase name '${p.name}' must match ${NAME}`);
    if (!STATES.includes(p.state)) throw new Error(`phase ${p.name}: state '${p.state}' is not one of ${STATES.join(', ')}`);
    const seconds = wholeSeconds(p.seconds, `phase ${p.name} seconds`);
    const transitionSeconds = wholeSeconds(p.transitionSeconds || 0, `phase ${p.name} transitionSeconds`);
    if (transitionSeconds >= seconds) throw new Error(`phase ${p.name}: transition ${transitionSeconds} s leaves no steady window`);
    const phase = { name: p.name, state: p.state, seconds, transitionSeconds, parameters: p.parameters || {}, start: offset };
    offset += seconds;
    return phase;
  });
  if (new Set(phases.map((p) => p.name)).size !== phases.length) throw new Error('phase names must be unique');

  const scenarios = {};
  const controllers = {};
  phases.forEach((phase, index) => {
    const control = `control_${phase.name}`;
    controllers[control] = index;
    scenarios[control] = {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      startTime: `${phase.start}s`,
      maxDuration: '60s',
      exec: spec.controllerExec || CONTROLLER_EXEC,
      tags: { role: 'controller' }, // no phase tag: admin calls never count in a phase's numbers
    };
    Object.keys(spec.workloads).forEach((workload) => {
      if (!NAME.test(workload)) throw new Error(`workload name '${workload}' must match ${NAME}`);
      const w = spec.workloads[workload];
      if (typeof w.exec !== 'string') throw new Error(`workload ${workload} needs exec, the name of an exported function`);
      const rate = typeof w.rate === 'function' ? w.rate(phase) : w.rate;
      if (!(rate > 0)) return;
      const steadyStart = phase.start + phase.transitionSeconds;
      if (phase.transitionSeconds > 0) {
        scenarios[`${workload}_${phase.name}_transition`] =
          loadScenario(workload, w, phase, 'transition', phase.start, phase.transitionSeconds, rate);
      }
      scenarios[`${workload}_${phase.name}`] =
        loadScenario(workload, w, phase, 'steady', steadyStart, phase.seconds - phase.transitionSeconds, rate);
    });
  });

  plan = {
    mode: spec.mode,
    parameters: spec.parameters || {},
    phases,
    controllers,
    services: spec.services || ['ordering', 'inventory', 'payment'],
    onPhaseEnd: spec.onPhaseEnd || null,
  };
  return scenarios;
}

/** Total length of the timeline in seconds (without gracefulStop and teardown). */
export function timelineSeconds(phases) {
  return phases.reduce((sum, p) => sum + p.seconds, 0);
}

/** 'metric{phase:<phase>,window:steady,k:v}': the threshold key for a phase's judged window. */
export function inPhase(metric, phase, tags) {
  const extra = Object.keys(tags || {}).map((k) => `,${k}:${tags[k]}`).join('');
  return `${metric}{phase:${phase},window:steady${extra}}`;
}

/** Thresholds every phased drill carries: no dropped arrivals, every flip applied, invariants hold at the end. */
export function drillThresholds(extra) {
  return Object.assign(
    { dropped_iterations: ['count==0'] }, // open model: k6 kept the offered rate (enough VUs), so the load is the one written
    TOGGLE_THRESHOLDS,
    INVARIANT_THRESHOLDS,
    extra || {},
  );
}

function requirePlan() {
  if (!plan) throw new Error('no phase plan: build options.scenarios with phasedScenarios() at module level');
  return plan;
}

function closePhase(phase) {
  const p = requirePlan();
  const stats = {};
  p.services.forEach((service) => {
    stats[service] = readStats(service);
  });
  if (p.onPhaseEnd) {
    p.onPhaseEnd({ phase: phase.name, state: phase.state, stats, tags: { phase: phase.name } });
  } else {
    console.log(`phase ${phase.name} (${p.mode}=${phase.state}) stats: ${JSON.stringify(stats)}`);
  }
}

/**
 * The controller: one iteration at each phase boundary. Closes the previous phase (reads /admin/stats), flips the
 * mode and waits until every affected service reports it, then zeroes the stats so the new phase counts from 0.
 * A flip that fails (400 naming a parameter, or no propagation) aborts the run: a drill without its fault proves nothing.
 */
export function phaseController() {
  const p = requirePlan();
  const index = p.controllers[exec.scenario.name];
  if (index === undefined) throw new Error(`scenario ${exec.scenario.name} is not a phase controller`);
  const phase = p.phases[index];
  if (index > 0) closePhase(p.phases[index - 1]);

  const result = phase.state === 'off'
    ? modeOff(p.mode)
    : flipMode(p.mode, phase.state, Object.assign({}, p.parameters, phase.parameters));
  if (!result.ok) {
    exec.test.abort(`phase ${phase.name}: could not set ${p.mode}=${phase.state}: ${result.problem}`);
  }
  p.services.forEach(resetStats);
  console.log(`t=${phase.start}s phase ${phase.name}: ${p.mode}=${phase.state}`);
}

/** setup() of a drill: the key works, and every mode starts off (a previous run may have been interrupted). */
export function drillSetup() {
  verifyAdminKey();
  resetModes();
  return {};
}

/**
 * teardown() of a drill: close the last phase, turn every mode off, then read the invariants (they settle first).
 * k6 runs teardown even after exec.test.abort(), so a run never leaves a fault switched on.
 */
export function drillTeardown(options) {
  const p = requirePlan();
  closePhase(p.phases[p.phases.length - 1]);
  resetModes();
  return checkInvariants(options);
}
