// Drill skip-locked-queue — toggle: PUT /admin/failure-modes/skip-locked-queue (reproduce → contain).
// Invariant: every queued job runs exactly once and none is stranded: duplicate executions == 0 and stuck jobs == 0
// under contain (SKIP LOCKED batch claim + lease + reaper + fenced completion), while reproduce (select-then-update,
// no lease, 5 % worker crashes) shows duplicates and stranded 'running' rows. Invariants total == 0 at the end.
//
// Load: drill jobs (services/Ordering/JobQueueDrill/DrillJob.cs, 20 ms handler, every run recorded) enqueued through
// POST /admin/jobs/drill at a constant arrival rate (open model). Per-phase numbers come from the "jobQueueDrill"
// section of GET /admin/stats (read and reset by the phase controller). Throughput at 1 vs 8 workers is measured by
// the test drills (tests/Jobs.Tests, tests/System.Tests): change workers with PUT /admin/jobs/workers per instance.
//   k6 run k6/drills/skip-locked-queue.js
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { ADMIN_KEY, ORDERING_URL, requireAdminKey, envNumber } from '../lib/config.js';
import { phasedScenarios, standardPhases, drillThresholds, drillSetup, drillTeardown } from '../lib/phases.js';
import { drillSummary } from '../lib/summary.js';
export { phaseController } from '../lib/phases.js';

requireAdminKey();

const BATCH = envNumber('JOBS_PER_REQUEST', 20); // jobs per enqueue request: 5 requests/s × 20 = 100 jobs/s offered
const duplicateExecutions = new Counter('duplicate_executions');
const stuckJobs = new Counter('stuck_jobs');
const deadJobs = new Counter('dead_jobs');

export const options = {
  scenarios: phasedScenarios({
    mode: 'skip-locked-queue',
    parameters: { claimStrategy: 1, workerCrashPercent: 5, handlerMs: 20 }, // select-then-update, ~5 % worker crashes
    phases: standardPhases({ baseline: 20, reproduce: 40, contain: 40, recovery: 20 }),
    workloads: { enqueue: { exec: 'enqueue', rate: 5 } },
    services: ['ordering'],
    onPhaseEnd: ({ stats, tags }) => {
      const s = (stats.ordering && stats.ordering.jobQueueDrill) || {};
      duplicateExecutions.add(s.duplicateExecutions || 0, tags); // always one sample per phase: no vacuous pass
      stuckJobs.add(s.stuck || 0, tags);
      deadJobs.add(s.dead || 0, tags);
    },
  }),
  thresholds: drillThresholds({
    // reproduce must SHOW the failure: select-then-update lets two workers run the same job (duplicate executions > 0)
    'duplicate_executions{phase:reproduce}': ['count>0'],
    // ...and without a lease a crashed worker's job stays 'running' forever
    'stuck_jobs{phase:reproduce}': ['count>0'],
    // contain must HOLD: 0 duplicates (SKIP LOCKED claim, completion fenced by the claim token)
    'duplicate_executions{phase:contain}': ['count==0'],
    // contain: crashed jobs re-run after lease + reaper interval — nothing stays stuck
    'stuck_jobs{phase:contain}': ['count==0'],
    // baseline and recovery (toggle off) are the production path: no duplicates either
    'duplicate_executions{phase:baseline}': ['count==0'],
    'duplicate_executions{phase:recovery}': ['count==0'],
    // the enqueue requests themselves succeed in every phase
    'http_req_failed{op:enqueue}': ['rate==0'],
  }),
};

export function setup() {
  return drillSetup();
}

export function enqueue() {
  const res = http.post(`${ORDERING_URL}/admin/jobs/drill?count=${BATCH}`, null, {
    headers: { 'X-Admin-Key': ADMIN_KEY },
    tags: { op: 'enqueue', name: 'POST /admin/jobs/drill' },
  });
  check(res, { 'drill jobs enqueued': (r) => r.status === 200 }, { op: 'enqueue' });
}

export function teardown() {
  drillTeardown({ settleSeconds: 30 });
}

export const handleSummary = drillSummary('skip-locked-queue');
