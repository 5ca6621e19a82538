// Guarantee: one row per job; work moves only along the state machine below, each move one conditional UPDATE.
// Failure handled: a crashed worker's rows stay 'running' only until locked_until; the reaper re-queues them.
// Doc: docs/failure-modes/skip-locked-queue.md
namespace ReliableShop.Jobs;

public static class JobsSchema
{
    //                  claim: attempt + 1, locked_by = token, locked_until = now() + lease
    //   enqueue ──► queued ─────────────────────────────────────────────────► running ──┬──► succeeded ──► deleted by cleanup
    //                ▲ ▲ ▲                                                    │ │ │     │                  after RetentionHours
    //                │ │ └── failed, attempts left: run_at = now() + backoff ─┘ │ │     └──► dead: attempts spent, or
    //                │ └──── shutdown: released, the attempt given back ────────┘ │          PermanentJobFailureException
    //                └────── lease expired (worker crashed): reaper ──────────────┘          (reaper: also when spent)
    //   Every move out of 'running' but the reaper's is fenced: WHERE id = @id AND locked_by = @token AND state = 'running'.
    // Idempotent DDL: every statement is IF NOT EXISTS, so it runs safely at every start.
    public const string Sql = """
        CREATE TABLE IF NOT EXISTS jobs (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind         text        NOT NULL,
            payload      jsonb       NOT NULL,
            unique_key   text        NULL,
            state        text        NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
            attempt      int         NOT NULL DEFAULT 0 CHECK (attempt >= 0),
            max_attempts int         NULL CHECK (max_attempts >= 1), -- NULL: the worker's Jobs:MaxAttempts
            run_at       timestamptz NOT NULL DEFAULT now(),
            locked_by    uuid        NULL,  -- claim token: only its holder may complete the row
            locked_until timestamptz NULL,  -- lease: after it the reaper re-queues the row
            last_error   text        NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            finished_at  timestamptz NULL
        );
        -- At most one job per (kind, unique_key) for as long as the row exists (until cleanup deletes it).
        CREATE UNIQUE INDEX IF NOT EXISTS jobs_kind_unique_key ON jobs (kind, unique_key) WHERE unique_key IS NOT NULL;
        -- The claim scans only runnable rows, in order.
        CREATE INDEX IF NOT EXISTS jobs_runnable ON jobs (run_at, id) WHERE state = 'queued';
        -- The reaper scans only leased rows.
        CREATE INDEX IF NOT EXISTS jobs_leased ON jobs (locked_until) WHERE state = 'running';
        -- Cleanup scans only finished rows; the dead count stays cheap.
        CREATE INDEX IF NOT EXISTS jobs_succeeded ON jobs (finished_at) WHERE state = 'succeeded';
        CREATE INDEX IF NOT EXISTS jobs_dead ON jobs (finished_at) WHERE state = 'dead';
        """;
}
