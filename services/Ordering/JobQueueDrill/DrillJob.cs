// A no-op job for the skip-locked-queue drill: it sleeps the mode's handlerMs and records every run in
// job_drill_executions (no unique key: a duplicate execution is a second row, counted, not hidden). Payload
// {"poison": true} always fails. Enqueued only by POST /admin/jobs/drill. Doc: docs/failure-modes/skip-locked-queue.md
using Npgsql;
using ReliableShop.FailureModes;
using ReliableShop.Jobs;

namespace ReliableShop.Ordering.JobQueueDrill;

public sealed class DrillJob(NpgsqlDataSource db, FailureModeToggles toggles) : IJobHandler
{
    public const string Kind = "drill-noop";

    public const string Sql = """
        CREATE TABLE IF NOT EXISTS job_drill_executions (
            job_id  bigint      NOT NULL,
            attempt int         NOT NULL,
            pid     int         NOT NULL,
            at      timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX IF NOT EXISTS job_drill_executions_job ON job_drill_executions (job_id);
        """;

    private const string EnqueueSql = $"""
        INSERT INTO jobs (kind, payload, max_attempts)
        SELECT '{Kind}', CASE WHEN $2 > 0 AND n % GREATEST($2, 1) = 0 THEN jsonb_build_object('n', n, 'poison', true)
                              ELSE jsonb_build_object('n', n) END, 3
        FROM generate_series(1, $1) n;
        """;

    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        await using (var record = db.CreateCommand("INSERT INTO job_drill_executions (job_id, attempt, pid) VALUES ($1, $2, $3)"))
        {
            record.Parameters.Add(new() { Value = job.Id });
            record.Parameters.Add(new() { Value = job.Attempt });
            record.Parameters.Add(new() { Value = Environment.ProcessId });
            await record.ExecuteNonQueryAsync(ct);
        }
        if (job.Payload.Contains("poison", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"poison drill job (attempt {job.Attempt})");
        }
        await Task.Delay(TimeSpan.FromMilliseconds(toggles[JobQueueToggle.Mode]["handlerMs"]), ct);
    }

    public static async Task<int> EnqueueAsync(NpgsqlDataSource db, int count, int poisonEvery, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand(EnqueueSql, connection, tx))
        {
            insert.Parameters.Add(new() { Value = count });
            insert.Parameters.Add(new() { Value = poisonEvery });
            await insert.ExecuteNonQueryAsync(ct);
        }
        await using (var notify = new NpgsqlCommand($"NOTIFY {JobQueue.Channel}", connection, tx))
        {
            await notify.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return count;
    }
}
