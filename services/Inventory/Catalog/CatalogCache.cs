// Cache-aside for catalog items with versioned values: a miss loads from PostgreSQL and writes back ONLY IF NEWER
// (Lua, atomic in Redis), so a reader holding an old row can never replace a newer value; writers invalidate AFTER
// commit. Redis down or slow: every read answers from PostgreSQL within RedisTimeoutMs. Doc: docs/failure-modes/stale-cache.md
using System.Text.Json;
using Microsoft.Extensions.Options;
using ReliableShop.FailureModes;
using StackExchange.Redis;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogCache(
    IConnectionMultiplexer redis, CatalogStore store, IOptions<CacheOptions> options, CacheMetrics metrics,
    FailureModeToggles toggles, CatalogChanges changes, TimeProvider time, ILogger<CatalogCache> logger)
{
    public const string Mode = "stale-cache";

    // Invalidation writes a versioned tombstone rather than a bare DEL: after a DEL, a reader that loaded the old row
    // just before the commit could write it back and serve it for a whole TTL; the tombstone's version refuses it.
    // Rule: replace when the new version is higher, or equal and an item replaces a tombstone of that version.
    private const string WriteIfNewerLua = """
        local current = redis.call('GET', KEYS[1])
        if current then
          local ok, held = pcall(cjson.decode, current)
          if ok and type(held) == 'table' and tonumber(held.version) then
            local have, want = tonumber(held.version), tonumber(ARGV[1])
            if want < have or (want == have and not (held.tombstone and ARGV[4] == 'item')) then
              return 0
            end
          end
        end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
        """;

    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;
    private readonly CacheOptions settings = options.Value;
    private readonly OccasionalLog errorLog = new(time, TimeSpan.FromSeconds(30));

    public async Task<CatalogItem?> GetAsync(string sku, CancellationToken ct)
    {
        var (cached, redisAnswered) = await TryReadAsync(sku);
        if (cached is not null)
        {
            metrics.Hit();
            changes.CountServed(cached);
            return cached;
        }
        metrics.Miss();
        var item = await store.GetAsync(sku, ct);
        metrics.Load();
        var mode = toggles[Mode];
        // FAULT (stale-cache, reproduce and contain): the cache-aside race made deterministic — a pause between this
        // reader's DB read and its cache write, so a writer commits and invalidates in between.
        if (mode.FaultInjected && mode["readerPauseMs"] > 0) await Task.Delay(TimeSpan.FromMilliseconds(mode["readerPauseMs"]), time, ct);
        if (item is not null && redisAnswered)
        {
            if (mode.Naive)
            {
                // NAIVE: a plain SET with one long fixed TTL: the paused reader writes the old row over the invalidation
                // and it is served for the whole TTL; every key written together also expires together.
                await TrySetAsync(item.Sku, JsonSerializer.Serialize(item, Json), TimeSpan.FromSeconds(mode["ttlSeconds"]));
            }
            else
            {
                // CONTROL: written only if newer (Lua), jittered TTL: the paused reader's old row loses to the tombstone.
                await TryWriteIfNewerAsync(item.Sku, item.Version, JsonSerializer.Serialize(item, Json), "item");
            }
        }
        return item;
    }

    /// <summary>Call AFTER the change committed; best effort (Redis down: the TTL bounds staleness).</summary>
    public async Task InvalidateAsync(IEnumerable<(string Sku, long Version)> changed)
    {
        var list = changed.ToList();
        if (toggles[Mode].Naive)
        {
            // NAIVE: a bare DEL in Redis and nothing else: a reader holding the old row can write it straight back, and
            // no replica's in-process L1 hears of the change (no broadcast): each serves its copy for the L1 TTL.
            foreach (var (sku, _) in list) await TryDeleteAsync(sku);
            return;
        }
        // CONTROL: a versioned tombstone (refuses older writes) + a broadcast that drops the SKU from every replica's L1.
        foreach (var (sku, version) in list)
        {
            await TryWriteIfNewerAsync(sku, version, JsonSerializer.Serialize(new { version, tombstone = true }, Json), "tombstone");
        }
        await changes.BroadcastInvalidationAsync(list);
    }

    /// <summary>
    /// Call AFTER the change committed, with the committed row: writes it if newer (so the next reads hit instead of
    /// all missing at once, and any older row a paused reader wrote is replaced) and drops it from every replica's L1.
    /// Naive: the same bare DEL as <see cref="InvalidateAsync"/>.
    /// </summary>
    public async Task RefreshAsync(CatalogItem item)
    {
        if (toggles[Mode].Naive)
        {
            await InvalidateAsync([(item.Sku, item.Version)]);
            return;
        }
        await TryWriteIfNewerAsync(item.Sku, item.Version, JsonSerializer.Serialize(item, Json), "item");
        await changes.BroadcastInvalidationAsync([(item.Sku, item.Version)]);
    }

    /// <summary>The item Redis holds for <paramref name="sku"/> (null: absent, tombstone or Redis unavailable); counts nothing.</summary>
    public async Task<CatalogItem?> PeekAsync(string sku) => (await TryReadAsync(sku)).Item;

    private async Task TrySetAsync(string sku, string json, TimeSpan ttl)
    {
        try
        {
            await WithTimeout(redis.GetDatabase().StringSetAsync(Key(sku), json, ttl));
        }
        catch (Exception e) when (RedisFailure.IsCacheUnavailable(e))
        {
            RecordError("write", e);
        }
    }

    private async Task TryDeleteAsync(string sku)
    {
        try
        {
            await WithTimeout(redis.GetDatabase().KeyDeleteAsync(Key(sku)));
        }
        catch (Exception e) when (RedisFailure.IsCacheUnavailable(e))
        {
            RecordError("write", e);
        }
    }

    /// <summary>The Lua path: true when written, false when Redis holds a newer version (or is unavailable).</summary>
    internal async Task<bool> TryWriteIfNewerAsync(string sku, long version, string json, string kind)
    {
        try
        {
            var written = (long)await WithTimeout(redis.GetDatabase().ScriptEvaluateAsync(WriteIfNewerLua,
                [Key(sku)], [version, json, (long)Ttl().TotalMilliseconds, kind]));
            if (written == 0)
            {
                metrics.StaleWriteRefused();
            }
            return written == 1;
        }
        catch (Exception e) when (RedisFailure.IsCacheUnavailable(e))
        {
            RecordError("write", e);
            return false;
        }
    }

    internal RedisKey Key(string sku) => settings.KeyPrefix + sku;

    private async Task<(CatalogItem? Item, bool RedisAnswered)> TryReadAsync(string sku)
    {
        try
        {
            var value = await WithTimeout(redis.GetDatabase().StringGetAsync(Key(sku)));
            if (value.IsNullOrEmpty)
            {
                return (null, true);
            }
            using var json = JsonDocument.Parse(value.ToString());
            return (json.RootElement.TryGetProperty("tombstone", out _) ? null : json.RootElement.Deserialize<CatalogItem>(Json), true);
        }
        catch (Exception e) when (RedisFailure.IsCacheUnavailable(e) || e is JsonException)
        {
            RecordError("read", e);
            return (null, false);
        }
    }

    // StackExchange.Redis checks its own timeouts only on its ~1 s heartbeat; this bounds each call to RedisTimeoutMs.
    private Task<T> WithTimeout<T>(Task<T> call) => call.WaitAsync(TimeSpan.FromMilliseconds(settings.RedisTimeoutMs), time);

    private TimeSpan Ttl()
    {
        var jitter = settings.TtlJitterPercent / 100.0 * (2 * Random.Shared.NextDouble() - 1);
        return TimeSpan.FromSeconds(settings.TtlSeconds * (1 + jitter));
    }

    private void RecordError(string operation, Exception e)
    {
        metrics.Error(operation);
        if (errorLog.ShouldLog(out var suppressed))
        {
            logger.LogWarning("Catalog cache {Operation} failed; answering from PostgreSQL ({Suppressed} similar errors not logged): {Error}",
                operation, suppressed, e.Message);
        }
    }
}
