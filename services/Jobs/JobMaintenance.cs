// Guarantee: a job claimed by a worker that died runs again once its lease passes (reaper); succeeded rows do not
// grow the table forever (cleanup). Failure handled: crashed replica, OOM-killed pod, table bloat.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ReliableShop.Jobs;

internal sealed class JobMaintenance(
    NpgsqlDataSource dataSource, JobsMetrics metrics, IOptions<JobsOptions> options, TimeProvider time,
    ILogger<JobMaintenance> logger) : BackgroundService
{
    private const int BatchSize = 1000;

    // Expired leases only; the attempt the crashed run used stays counted, so a job that kills its worker ends 'dead'.
    // run_at is kept: the job keeps its place at the head of the queue instead of queueing behind the backlog again,
    // so a crashed job runs again within lease + reaper interval even under load (skip-locked-queue drill criterion).
    private const string ReapSql = """
        UPDATE jobs SET state = CASE WHEN attempt >= COALESCE(max_attempts, @max_attempts) THEN 'dead' ELSE 'queued' END,
                        finished_at = CASE WHEN attempt >= COALESCE(max_attempts, @max_attempts) THEN now() END,
                        locked_by = NULL, locked_until = NULL,
                        last_error = 'lease expired at ' || locked_until || ' (worker crashed or handler overran its lease)'
        WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND locked_until < now()
                     ORDER BY locked_until LIMIT @batch FOR UPDATE SKIP LOCKED)
        RETURNING kind, state
        """;

    // Succeeded rows past retention only (queued, running and dead rows are never deleted), in short batches.
    private const string CleanupSql = """
        DELETE FROM jobs
        WHERE id IN (SELECT id FROM jobs WHERE state = 'succeeded' AND finished_at < now() - @retention
                     ORDER BY finished_at LIMIT @batch FOR UPDATE SKIP LOCKED)
        """;

    private readonly JobsOptions settings = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        EveryAsync(TimeSpan.FromSeconds(settings.ReaperIntervalSeconds), ReapAsync, "Reaper", stoppingToken),
        EveryAsync(TimeSpan.FromSeconds(settings.CleanupIntervalSeconds), CleanupAsync, "Cleanup", stoppingToken));

    private async Task EveryAsync(TimeSpan period, Func<CancellationToken, Task<long>> pass, string name, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(period, time);
        do
        {
            try
            {
                await pass(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "{Pass} pass failed; retrying in {Period}", name, period);
            }
        }
        while (await WaitAsync(timer, ct));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    internal async Task<long> ReapAsync(CancellationToken ct)
    {
        var reaped = 0L;
        // The reader is disposed exactly once, at the end of this block, before anything else runs. Npgsql reuses one
        // reader object per physical connection: a second dispose, after the first had returned the connection to the
        // pool, closed whichever command held that connection by then — another request's read failed ("Received backend
        // message ParseComplete while expecting ReadyForQueryMessage", CI rehearsal 2026-12-07 02:08 UTC, overload drill).
        await using (var command = dataSource.CreateCommand(ReapSql))
        {
            command.Parameters.AddWithValue("max_attempts", settings.MaxAttempts);
            command.Parameters.AddWithValue("batch", BatchSize);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                reaped++;
                if (reader.GetString(1) == "dead")
                {
                    metrics.Dead(reader.GetString(0));
                }
            }
        }
        if (reaped > 0)
        {
            await using var notify = dataSource.CreateCommand($"NOTIFY {JobQueue.Channel}"); // wake idle workers now
            await notify.ExecuteNonQueryAsync(ct);
            metrics.Reaped(reaped);
            logger.LogWarning("Reaper re-queued {Count} jobs whose lease expired", reaped);
        }
        return reaped;
    }

    internal async Task<long> CleanupAsync(CancellationToken ct)
    {
        long deleted = 0, batch;
        do
        {
            await using var command = dataSource.CreateCommand(CleanupSql);
            command.Parameters.AddWithValue("retention", TimeSpan.FromHours(settings.RetentionHours));
            command.Parameters.AddWithValue("batch", BatchSize);
            batch = await command.ExecuteNonQueryAsync(ct);
            deleted += batch;
        }
        while (batch == BatchSize);
        return deleted;
    }
}
