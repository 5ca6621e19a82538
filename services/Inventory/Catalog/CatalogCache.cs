// Cache-aside for catalog items with versioned values: a miss loads from PostgreSQL and writes back ONLY IF NEWER
// (Lua, atomic in Redis), so a reader holding an old row can never replace a newer value; writers invalidate AFTER
// commit. Redis down or slow: every read answers from PostgreSQL within RedisTimeoutMs. Doc: docs/failure-modes/stale-cache.md
using System.Text.Json;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogCache(
    IConnectionMultiplexer redis, CatalogStore store, IOptions<CacheOptions> options, CacheMetrics metrics,
    TimeProvider time, ILogger<CatalogCache> logger)
{
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
            return cached;
        }
        metrics.Miss();
        var item = await store.GetAsync(sku, ct);
        metrics.Load();
        if (item is not null && redisAnswered)
        {
            await TryWriteIfNewerAsync(item.Sku, item.Version, JsonSerializer.Serialize(item, Json), "item");
        }
        return item;
    }

    /// <summary>Call AFTER the change committed; best effort (Redis down: the TTL bounds staleness).</summary>
    public async Task InvalidateAsync(IEnumerable<(string Sku, long Version)> changed)
    {
        foreach (var (sku, version) in changed)
        {
            await TryWriteIfNewerAsync(sku, version, JsonSerializer.Serialize(new { version, tombstone = true }, Json), "tombstone");
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
        catch (Exception e) when (e is RedisException or TimeoutException)
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
        catch (Exception e) when (e is RedisException or TimeoutException or JsonException)
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
