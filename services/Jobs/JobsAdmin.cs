// Guarantee: the numbers an operator sees (admin API) are the numbers the gauges export — one query for both.
// Failure handled: a growing queue, stuck 'running' rows or dead jobs are visible, not discovered by customers.
// Doc: docs/failure-modes/skip-locked-queue.md
using Npgsql;

namespace ReliableShop.Jobs;

/// <param name="OldestQueuedAgeSeconds">How long the oldest runnable job has waited past its run_at (0 when none).</param>
public sealed record JobQueueStats(long Queued, long Running, long Dead, double OldestQueuedAgeSeconds);

public sealed class JobsAdmin(NpgsqlDataSource dataSource)
{
    // Each count reads one partial index; the age is how far the queue lags behind its schedule.
    private const string StatsSql = """
        SELECT (SELECT count(*) FROM jobs WHERE state = 'queued'),
               (SELECT count(*) FROM jobs WHERE state = 'running'),
               (SELECT count(*) FROM jobs WHERE state = 'dead'),
               COALESCE((SELECT extract(epoch FROM now() - min(run_at))::float8
                         FROM jobs WHERE state = 'queued' AND run_at <= now()), 0)
        """;

    // Operator action after fixing the cause: dead → queued with a fresh attempt budget.
    private const string RequeueDeadSql = """
        UPDATE jobs SET state = 'queued', attempt = 0, run_at = now(), finished_at = NULL
        WHERE state = 'dead' AND (@id::bigint IS NULL OR id = @id)
        """;

    private const string NotifySql = $"NOTIFY {JobQueue.Channel}";

    public async Task<JobQueueStats> GetStatsAsync(CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(StatsSql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new JobQueueStats(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDouble(3));
    }

    /// <summary>Re-queues one dead job (or all when jobId is null); returns the number of rows re-queued.</summary>
    public async Task<int> RequeueDeadAsync(long? jobId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(RequeueDeadSql);
        command.Parameters.AddWithValue("id", NpgsqlTypes.NpgsqlDbType.Bigint, (object?)jobId ?? DBNull.Value);
        var requeued = await command.ExecuteNonQueryAsync(ct);
        await using var notify = dataSource.CreateCommand(NotifySql);
        await notify.ExecuteNonQueryAsync(ct);
        return requeued;
    }
}
