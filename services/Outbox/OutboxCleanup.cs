// Retention: published rows are deleted after RetentionHours, in batches of 1,000 so no delete holds locks or bloats
// WAL for long. Handles the outbox table growing forever. Pending and dead rows are never deleted.
// Doc: docs/failure-modes/outbox.md
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ReliableShop.Outbox;

internal sealed class OutboxCleanup(NpgsqlDataSource dataSource, TimeProvider time, ILogger logger)
{
    private const int DeleteBatchSize = 1000;

    // Only 'published' rows past retention; each statement is its own short transaction.
    private const string DeleteSql = """
        DELETE FROM outbox_messages
        WHERE id IN (
            SELECT id FROM outbox_messages
            WHERE status = 'published' AND published_at < now() - make_interval(secs => $1)
            LIMIT $2)
        """;

    public async Task RunAsync(TimeSpan retention, TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval, time);
        do
        {
            try
            {
                var deleted = await DeleteExpiredAsync(retention, ct);
                if (deleted > 0) logger.LogInformation("Outbox cleanup deleted {Deleted} published rows", deleted);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return; // stopping
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Outbox cleanup failed; retrying in {Interval}", interval);
            }
        }
        while (await WaitAsync(timer, ct));
    }

    public async Task<int> DeleteExpiredAsync(TimeSpan retention, CancellationToken ct)
    {
        var total = 0;
        int deleted;
        do
        {
            await using var command = dataSource.CreateCommand(DeleteSql);
            command.Parameters.Add(new() { Value = retention.TotalSeconds });
            command.Parameters.Add(new() { Value = DeleteBatchSize });
            deleted = await command.ExecuteNonQueryAsync(ct);
            total += deleted;
        }
        while (deleted == DeleteBatchSize && !ct.IsCancellationRequested);
        return total;
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
}
