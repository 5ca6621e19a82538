// The write-behind half of catalog views: drains the queue in batches of up to 500, one upsert per batch. A batch that
// fails is retried (capped backoff) and stays counted as queued until it commits; on shutdown the queue is drained
// within the host's shutdown time. Doc: docs/failure-modes/overload.md
using Npgsql;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Catalog;

public sealed partial class CatalogViewWriter(CatalogViews views, NpgsqlDataSource dataSource, TimeProvider time, ILogger<CatalogViewWriter> logger)
    : BackgroundService
{
    public const int MaxBatch = 500;
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100), MaxRetry = TimeSpan.FromSeconds(2);

    // One statement per batch, one row per SKU (grouped in the batch): the counts add up whatever is already there.
    // ORDER BY sku: two replicas' batches lock the same rows in the same order, so they wait for each other, never deadlock.
    public const string UpsertSql = """
        INSERT INTO catalog_item_views (sku, views)
        SELECT sku, views FROM unnest($1::text[], $2::bigint[]) AS batch (sku, views) ORDER BY sku
        ON CONFLICT (sku) DO UPDATE SET views = catalog_item_views.views + excluded.views
        """;

    // Cancelled when the host's shutdown time is up, not when stopping starts: stopping drains the queue first.
    // Never disposed (no timer, not linked): a host can call StopAsync again after disposing its services.
    private readonly CancellationTokenSource giveUp = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<QueuedView>(MaxBatch);
        try
        {
            while (await views.Reader.WaitToReadAsync(giveUp.Token)) // false once completed (stopping) and empty
            {
                batch.Clear();
                while (batch.Count < MaxBatch && views.Reader.TryRead(out var view)) batch.Add(view);
                if (batch.Count == 0) continue;
                views.Writing(batch[0]);
                await WriteWithRetryAsync(batch, giveUp.Token);
                views.Written(batch.Count);
            }
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            LogAbandoned(views.Queued);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        views.Complete();                        // new views are refused; the loop ends once the queue is written
        await base.StopAsync(cancellationToken); // returns when the loop ends, or when the host's shutdown time is up:
        await giveUp.CancelAsync();              // then stop waiting on the database and log what is left.
        // Not cancellationToken.Register(giveUp.Cancel): base.StopAsync resumes inside that token's callbacks, and
        // disposing our registration there could drop it before it ran (seen: the writer kept waiting on a lock).
    }

    private async Task WriteWithRetryAsync(List<QueuedView> batch, CancellationToken ct)
    {
        var (skus, counts) = Group(batch);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var upsert = dataSource.CreateCommand(UpsertSql);
                upsert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = skus });
                upsert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = counts });
                await upsert.ExecuteNonQueryAsync(ct);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Database down, pool exhausted, statement timeout behind a lock …: the batch is kept and tried again.
                // A permanent error (a missing table, a violated constraint) is retried too — accepted views are never
                // dropped — but logged as an error: it stops the writer until someone fixes it, and in contain the full
                // queue then answers 503, which is how it shows.
                if (e is NpgsqlException { IsTransient: true } or TimeoutException) LogBatchFailed(e, batch.Count, attempt);
                else LogBatchFailedPermanently(e, batch.Count, attempt);
                await Task.Delay(Backoff.Next(attempt, FirstRetry, MaxRetry, Random.Shared), time, ct);
            }
        }
    }

    private static (string[] Skus, long[] Counts) Group(List<QueuedView> batch)
    {
        var bySku = batch.CountBy(v => v.Sku, StringComparer.Ordinal).ToList();
        return ([.. bySku.Select(g => g.Key)], [.. bySku.Select(g => (long)g.Value)]);
    }

    [LoggerMessage(LogLevel.Warning, "Catalog view batch of {Count} failed (attempt {Attempt}); kept and retried")]
    private partial void LogBatchFailed(Exception e, int count, int attempt);

    [LoggerMessage(LogLevel.Error, "Catalog view batch of {Count} failed (attempt {Attempt}) with an error that will not pass by itself; kept and retried")]
    private partial void LogBatchFailedPermanently(Exception e, int count, int attempt);

    [LoggerMessage(LogLevel.Error, "Shutdown time is up: {Count} accepted catalog views were not written")]
    private partial void LogAbandoned(long count);
}
