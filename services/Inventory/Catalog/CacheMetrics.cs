using System.Diagnostics.Metrics;

namespace ReliableShop.Inventory.Catalog;

/// <summary>Cache telemetry (meter "ReliableShop.Inventory"): hits, misses, loads from PostgreSQL, Redis errors, stale writes refused.</summary>
public sealed class CacheMetrics
{
    public const string MeterName = "ReliableShop.Inventory";
    public const string HitsName = "reliableshop.inventory.cache.hits";
    public const string MissesName = "reliableshop.inventory.cache.misses";
    public const string LoadsName = "reliableshop.inventory.cache.loads";
    public const string ErrorsName = "reliableshop.inventory.cache.errors";
    public const string StaleWritesRefusedName = "reliableshop.inventory.cache.stale_writes_refused";
    public const string L1HitsName = "reliableshop.inventory.cache.l1_hits";
    public const string StaleReadsName = "reliableshop.inventory.cache.stale_reads";

    private readonly Counter<long> hits, misses, loads, errors, staleWritesRefused, l1Hits, staleReads;
    private long hitCount, missCount, loadCount, errorCount, staleWriteCount, l1HitCount, staleReadCount; // the same counts for GET /admin/stats

    public CacheMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        hits = meter.CreateCounter<long>(HitsName, "{read}", "Item reads answered from Redis");
        misses = meter.CreateCounter<long>(MissesName, "{read}", "Item reads not found in Redis (absent, invalidated or Redis unavailable)");
        loads = meter.CreateCounter<long>(LoadsName, "{read}", "Item reads loaded from PostgreSQL after a miss");
        errors = meter.CreateCounter<long>(ErrorsName, "{call}", "Redis calls that failed or timed out");
        staleWritesRefused = meter.CreateCounter<long>(StaleWritesRefusedName, "{write}", "Cache writes refused because Redis held a newer version");
        l1Hits = meter.CreateCounter<long>(L1HitsName, "{read}", "Item reads answered from the in-process L1");
        staleReads = meter.CreateCounter<long>(StaleReadsName, "{read}", "Item reads answered from a cache layer with a version older than the newest committed one");
    }

    public void L1Hit()
    {
        l1Hits.Add(1);
        Interlocked.Increment(ref l1HitCount);
    }

    public void StaleRead()
    {
        staleReads.Add(1);
        Interlocked.Increment(ref staleReadCount);
    }

    public void Hit()
    {
        hits.Add(1);
        Interlocked.Increment(ref hitCount);
    }

    public void Miss()
    {
        misses.Add(1);
        Interlocked.Increment(ref missCount);
    }

    public void Load()
    {
        loads.Add(1);
        Interlocked.Increment(ref loadCount);
    }

    public void Error(string operation)
    {
        errors.Add(1, new KeyValuePair<string, object?>("operation", operation));
        Interlocked.Increment(ref errorCount);
    }

    public void StaleWriteRefused()
    {
        staleWritesRefused.Add(1);
        Interlocked.Increment(ref staleWriteCount);
    }

    public CacheStats Snapshot() => new(Interlocked.Read(ref hitCount), Interlocked.Read(ref missCount),
        Interlocked.Read(ref loadCount), Interlocked.Read(ref errorCount), Interlocked.Read(ref staleWriteCount),
        Interlocked.Read(ref l1HitCount), Interlocked.Read(ref staleReadCount));

    /// <summary>Zeroes the /admin/stats counts for a new drill phase (the OpenTelemetry counters keep counting).</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref hitCount, 0);
        Interlocked.Exchange(ref missCount, 0);
        Interlocked.Exchange(ref loadCount, 0);
        Interlocked.Exchange(ref errorCount, 0);
        Interlocked.Exchange(ref staleWriteCount, 0);
        Interlocked.Exchange(ref l1HitCount, 0);
        Interlocked.Exchange(ref staleReadCount, 0);
    }
}

/// <summary>The "cache" section of GET /admin/stats: hit ratio = (l1Hits + hits) / (l1Hits + hits + misses); Hits and
/// Misses count Redis lookups (made after an L1 miss); staleReads / (l1Hits + hits) is the stale-read ratio.</summary>
public sealed record CacheStats(long Hits, long Misses, long Loads, long Errors, long StaleWritesRefused, long L1Hits = 0, long StaleReads = 0);
