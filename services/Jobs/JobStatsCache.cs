// Guarantee: the queue gauges cost at most one stats query per MaxAge (5 s), however often they are scraped.
// Failure handled: an exporter scraping every second, or a slow database, never piles up COUNT queries.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.Logging;

namespace ReliableShop.Jobs;

internal sealed class JobStatsCache(
    Func<CancellationToken, Task<JobQueueStats>> query, TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    private JobQueueStats latest = new(0, 0, 0, 0);
    private long refreshedAtTicks; // UTC ticks; 0 = never
    private int refreshing;

    /// <summary>The last stats read; when older than MaxAge a single background refresh starts (gauges are read
    /// synchronously, so they never wait for the database).</summary>
    public JobQueueStats Latest
    {
        get
        {
            var stale = time.GetUtcNow().UtcTicks - Volatile.Read(ref refreshedAtTicks) >= MaxAge.Ticks;
            if (stale && Interlocked.Exchange(ref refreshing, 1) == 0)
            {
                _ = RefreshAsync();
            }
            return Volatile.Read(ref latest);
        }
    }

    private async Task RefreshAsync()
    {
        try
        {
            Volatile.Write(ref latest, await query(CancellationToken.None));
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Job queue stats query failed; gauges keep the last values");
        }
        finally
        {
            // Also after a failure: a database outage is retried once per MaxAge, not on every scrape.
            Volatile.Write(ref refreshedAtTicks, time.GetUtcNow().UtcTicks);
            Volatile.Write(ref refreshing, 0);
        }
    }
}
