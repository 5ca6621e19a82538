// Two Redis pub/sub channels between the Inventory replicas:
// * invalidations — the CONTROL: after a change committed, every replica drops the SKU from its in-process L1
//   (CatalogL1). Pub/sub is fire-and-forget (a replica disconnected at that moment misses it), so the L1 TTL
//   (Cache:L1TtlMs, within the staleness budget) bounds what a missed broadcast can cost.
// * commits — MEASUREMENT only, sent in every state: "SKU x has version v since t". Each replica tracks the newest
//   version it heard of (stale reads = answers older than it) and the StalenessProbe times how long until it serves v.
// Doc: docs/failure-modes/stale-cache.md
using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ReliableShop.Inventory.Catalog;

public sealed record CatalogCommit(string Sku, long Version, long AtUnixMs);

public sealed class CatalogChanges(
    IConnectionMultiplexer redis, CatalogL1 l1, IOptions<CacheOptions> options, CacheMetrics metrics, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;
    private readonly CacheOptions settings = options.Value;
    private readonly ConcurrentDictionary<string, long> newest = new(StringComparer.Ordinal);

    public RedisChannel InvalidationsChannel => RedisChannel.Literal(settings.KeyPrefix + "__invalidations");
    public RedisChannel CommitsChannel => RedisChannel.Literal(settings.KeyPrefix + "__commits");

    /// <summary>Raised on this replica for every commit announced by any replica (the staleness probe listens).</summary>
    public event Action<CatalogCommit>? Committed;

    /// <summary>Tells every replica (this one included) to drop these versions from its L1. Best effort.</summary>
    public async Task BroadcastInvalidationAsync(IReadOnlyCollection<(string Sku, long Version)> changed)
    {
        foreach (var (sku, version) in changed) l1.Drop(sku, version, L1Ttl); // this replica at once, whatever Redis does
        await PublishAsync(InvalidationsChannel, changed.Select(c => new CatalogCommit(c.Sku, c.Version, 0)).ToList());
    }

    /// <summary>Announces committed versions to every replica's staleness probe and stale-read counter. Best effort.</summary>
    public Task AnnounceCommitAsync(IReadOnlyCollection<(string Sku, long Version)> committed)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return PublishAsync(CommitsChannel, committed.Select(c => new CatalogCommit(c.Sku, c.Version, now)).ToList());
    }

    /// <summary>Counts a read answered from a cache layer with a version older than the newest one announced.</summary>
    public void CountServed(CatalogItem item)
    {
        if (newest.TryGetValue(item.Sku, out var version) && item.Version < version) metrics.StaleRead();
    }

    internal TimeSpan L1Ttl => TimeSpan.FromMilliseconds(settings.L1TtlMs);

    internal void OnInvalidation(RedisValue message)
    {
        foreach (var change in Parse(message)) l1.Drop(change.Sku, change.Version, L1Ttl);
    }

    internal void OnCommit(RedisValue message)
    {
        foreach (var commit in Parse(message))
        {
            newest.AddOrUpdate(commit.Sku, commit.Version, (_, held) => Math.Max(held, commit.Version));
            Committed?.Invoke(commit);
        }
    }

    private async Task PublishAsync(RedisChannel channel, List<CatalogCommit> changes)
    {
        if (changes.Count == 0) return;
        try
        {
            await redis.GetSubscriber().PublishAsync(channel, JsonSerializer.Serialize(changes, Json))
                .WaitAsync(TimeSpan.FromMilliseconds(settings.RedisTimeoutMs), time);
        }
        // After the reservation's commit, a lost broadcast must not fail the consumer and send its message to the _error queue.
        catch (Exception e) when (RedisFailure.IsCacheUnavailable(e))
        {
            metrics.Error("publish"); // the L1 TTL bounds what a lost broadcast costs
        }
    }

    private static List<CatalogCommit> Parse(RedisValue message)
    {
        try
        {
            return JsonSerializer.Deserialize<List<CatalogCommit>>(message.ToString(), Json) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }
}

/// <summary>Subscribes this replica to both channels, retrying while Redis is down (then StackExchange.Redis resubscribes on reconnect).</summary>
public sealed class CatalogChangesSubscriber(IConnectionMultiplexer redis, CatalogChanges changes, TimeProvider time, ILogger<CatalogChangesSubscriber> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var subscriber = redis.GetSubscriber();
                await subscriber.SubscribeAsync(changes.InvalidationsChannel, (_, message) => changes.OnInvalidation(message));
                await subscriber.SubscribeAsync(changes.CommitsChannel, (_, message) => changes.OnCommit(message));
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                logger.LogWarning("Catalog change subscription failed, retrying in 2 s: {Error}", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), time, stoppingToken);
            }
        }
    }
}
