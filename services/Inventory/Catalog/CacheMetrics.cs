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

    private readonly Counter<long> hits, misses, loads, errors, staleWritesRefused;
    private long hitCount, missCount, loadCount, errorCount, staleWriteCount; // the same counts for GET /admin/stats

    public CacheMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        hits = meter.CreateCounter<long>(HitsName, "{read}", "Item reads answered from Redis");
        misses = meter.CreateCounter<long>(MissesName, "{read}", "Item reads not found in Redis (absent, invalidated or Redis unavailable)");
        loads = meter.CreateCounter<long>(LoadsName, "{read}", "Item reads loaded from PostgreSQL after a miss");
        errors = meter.CreateCounter<long>(ErrorsName, "{call}", "Redis calls that failed or timed out");
        staleWritesRefused = meter.CreateCounter<long>(StaleWritesRefusedName, "{write}", "Cache writes refused because Redis held a newer version");
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
        Interlocked.Read(ref loadCount), Interlocked.Read(ref errorCount), Interlocked.Read(ref staleWriteCount));

    /// <summary>Zeroes the /admin/stats counts for a new drill phase (the OpenTelemetry counters keep counting).</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref hitCount, 0);
        Interlocked.Exchange(ref missCount, 0);
        Interlocked.Exchange(ref loadCount, 0);
        Interlocked.Exchange(ref errorCount, 0);
        Interlocked.Exchange(ref staleWriteCount, 0);
    }
}

/// <summary>The "cache" section of GET /admin/stats: hit ratio = hits / (hits + misses).</summary>
public sealed record CacheStats(long Hits, long Misses, long Loads, long Errors, long StaleWritesRefused);
