// The staleness probe (KPI of the stale-cache drill): for every commit announced on the commits channel, this replica
// checks every 25 ms which version its read path would serve — the L1 entry if live, else the Redis value, else
// PostgreSQL (fresh by definition) — without loading or counting anything, and records commit → "serves the new
// version" as a histogram. A version still not served after 10 s is recorded as 10 s (unconverged). Budgets:
// Redis ≤ 1 s, L1 ≤ 2 s (failure-modes.md §9). Section "staleness" of GET /admin/stats.
// Doc: docs/failure-modes/stale-cache.md
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ReliableShop.Drills;

namespace ReliableShop.Inventory.Catalog;

/// <summary>Section "staleness": finished probes by outcome and histogram; pending* count probes still stale right now.</summary>
public sealed record StalenessStats(
    long Probes, long Converged, long Superseded, long Unconverged, long StaleAfter1s, long BeyondBudget, long MaxMs,
    long Pending, long PendingOver1s, long PendingOverBudget, IReadOnlyDictionary<string, long> Histogram);

public sealed class StalenessProbe : BackgroundService, IDrillStatsSource
{
    public const string HistogramName = "reliableshop.inventory.cache.staleness";
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(10);
    public const long BudgetMs = 2_000; // L1 budget; the Redis budget (1 s) shows as staleAfter1s
    private static readonly long[] Bounds = [50, 100, 250, 500, 1_000, 2_000, 5_000];
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    private readonly CatalogReader reader;
    private readonly CatalogL1 l1;
    private readonly CatalogCache cache;
    private readonly TimeProvider time;
    private readonly Histogram<double> histogram;
    private readonly ConcurrentDictionary<string, CatalogCommit> pending = new(StringComparer.Ordinal);
    private readonly long[] buckets = new long[Bounds.Length + 1];
    private long probes, converged, superseded, unconverged, staleAfter1s, beyondBudget, maxMs;

    public StalenessProbe(CatalogChanges changes, CatalogReader reader, CatalogL1 l1, CatalogCache cache, TimeProvider time, IMeterFactory meterFactory)
    {
        (this.reader, this.l1, this.cache, this.time) = (reader, l1, cache, time);
        histogram = meterFactory.Create(CacheMetrics.MeterName).CreateHistogram<double>(HistogramName, "ms",
            "Commit of a catalog change → this replica's read path serves the new version");
        changes.Committed += Track;
    }

    public string Section => "staleness";

    public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(Snapshot());

    public void Reset()
    {
        pending.Clear(); // a new phase probes its own commits only
        Interlocked.Exchange(ref probes, 0);
        Interlocked.Exchange(ref converged, 0);
        Interlocked.Exchange(ref superseded, 0);
        Interlocked.Exchange(ref unconverged, 0);
        Interlocked.Exchange(ref staleAfter1s, 0);
        Interlocked.Exchange(ref beyondBudget, 0);
        Interlocked.Exchange(ref maxMs, 0);
        for (var i = 0; i < buckets.Length; i++) Interlocked.Exchange(ref buckets[i], 0);
    }

    public StalenessStats Snapshot()
    {
        var histogramView = new Dictionary<string, long>();
        for (var i = 0; i < buckets.Length; i++)
        {
            histogramView[i < Bounds.Length ? $"le{Bounds[i]}" : $"gt{Bounds[^1]}"] = Interlocked.Read(ref buckets[i]);
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var ages = pending.Values.Select(p => now - p.AtUnixMs).ToList();
        return new(Interlocked.Read(ref probes), Interlocked.Read(ref converged), Interlocked.Read(ref superseded),
            Interlocked.Read(ref unconverged), Interlocked.Read(ref staleAfter1s), Interlocked.Read(ref beyondBudget),
            Interlocked.Read(ref maxMs), ages.Count, ages.Count(a => a > 1_000), ages.Count(a => a > BudgetMs), histogramView);
    }

    // One probe per SKU: a newer commit supersedes the pending one (its staleness is then timed from the newer commit).
    private void Track(CatalogCommit commit)
    {
        Interlocked.Increment(ref probes);
        pending.AddOrUpdate(commit.Sku, commit, (_, held) =>
        {
            if (held.Version >= commit.Version) return held;
            Interlocked.Increment(ref superseded);
            return commit;
        });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var (sku, commit) in pending)
            {
                var elapsedMs = time.GetUtcNow().ToUnixTimeMilliseconds() - commit.AtUnixMs;
                if (await ServesAtLeastAsync(sku, commit.Version))
                {
                    if (pending.TryRemove(KeyValuePair.Create(sku, commit))) Record(Math.Max(0, elapsedMs), served: true);
                }
                else if (elapsedMs >= GiveUpAfter.TotalMilliseconds && pending.TryRemove(KeyValuePair.Create(sku, commit)))
                {
                    Record(elapsedMs, served: false);
                }
            }
        }
    }

    private async Task<bool> ServesAtLeastAsync(string sku, long version)
    {
        if (l1.Get(sku, reader.L1Ttl()) is { } local) return local.Version >= version;
        return await cache.PeekAsync(sku) is not { } cached || cached.Version >= version;
    }

    private void Record(long elapsedMs, bool served)
    {
        if (served) Interlocked.Increment(ref converged);
        else Interlocked.Increment(ref unconverged);
        if (elapsedMs > 1_000) Interlocked.Increment(ref staleAfter1s);
        if (elapsedMs > BudgetMs) Interlocked.Increment(ref beyondBudget);
        var bucket = Array.FindIndex(Bounds, b => elapsedMs <= b);
        Interlocked.Increment(ref buckets[bucket < 0 ? Bounds.Length : bucket]);
        long seen;
        while (elapsedMs > (seen = Interlocked.Read(ref maxMs)) && Interlocked.CompareExchange(ref maxMs, elapsedMs, seen) != seen) { }
        histogram.Record(elapsedMs);
    }
}
