// The "jobQueueDrill" section of GET /admin/stats: duplicate executions and stuck drill jobs since the last
// POST /admin/stats/reset, computed from job_drill_executions (the k6 drill turns them into thresholds).
// Doc: docs/failure-modes/skip-locked-queue.md
using Npgsql;
using ReliableShop.Drills;

namespace ReliableShop.Ordering.JobQueueDrill;

public sealed class JobQueueDrillStats(NpgsqlDataSource db, TimeProvider time) : IDrillStatsSource
{
    // duplicates: runs beyond the first of a non-poison job · stuck: 'running' with no lease, or a lease long expired
    private const string Sql = $"""
        SELECT (SELECT count(*) FROM job_drill_executions WHERE at >= $1),
               (SELECT coalesce(sum(runs - 1), 0)::bigint FROM (
                    SELECT count(*) AS runs FROM job_drill_executions e JOIN jobs j ON j.id = e.job_id
                    WHERE e.at >= $1 AND NOT j.payload ? 'poison' GROUP BY e.job_id) r),
               (SELECT count(*) FROM jobs WHERE kind = '{DrillJob.Kind}' AND state = 'running'
                                           AND created_at >= $1
                                           AND (locked_until IS NULL OR locked_until < now() - interval '10 seconds')),
               (SELECT count(*) FROM jobs WHERE kind = '{DrillJob.Kind}' AND state = 'dead' AND finished_at >= $1)
        """;

    private DateTimeOffset since = DateTimeOffset.MinValue;

    public string Section => "jobQueueDrill";

    public async Task<object> ReadAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand(Sql);
        command.Parameters.Add(new() { Value = since == DateTimeOffset.MinValue ? DateTimeOffset.UnixEpoch : since });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new { executions = reader.GetInt64(0), duplicateExecutions = reader.GetInt64(1), stuck = reader.GetInt64(2), dead = reader.GetInt64(3) };
    }

    public void Reset() => since = time.GetUtcNow();
}
