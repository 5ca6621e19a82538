// Registers Redis (Aspire client, ConnectionStrings:redis) tuned so the service starts and serves while Redis is down.
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ReliableShop.Inventory.Catalog;

public static class CatalogCacheExtensions
{
    public const string RedisConnectionName = "redis";

    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        // Aspire's Redis health check would report Unhealthy (503) while Redis is down; ours reports Degraded instead.
        builder.AddRedisClient(RedisConnectionName, settings => settings.DisableHealthChecks = true);
        builder.Services.AddHealthChecks().AddCheck<RedisCacheHealthCheck>("redis-cache");
        builder.Services.AddOptions<ConfigurationOptions>().Configure<IOptions<CacheOptions>>((redis, cache) =>
        {
            redis.AbortOnConnectFail = false;              // start (and keep retrying) while Redis is down; Aspire's default too
            redis.BacklogPolicy = BacklogPolicy.FailFast;  // disconnected: fail at once instead of queueing until timeout
            redis.ConnectTimeout = 2_000;                  // each (re)connect attempt; startup waits at most this for a dead Redis
            redis.AsyncTimeout = redis.SyncTimeout = cache.Value.RedisTimeoutMs;
        });
        builder.Services.AddValidatedOptions<CacheOptions>(CacheOptions.SectionName);
        builder.Services.AddSingleton<CacheMetrics>();
        builder.Services.AddSingleton<CatalogStore>();
        builder.Services.AddSingleton<CatalogCache>();
        builder.Services.AddSingleton<CatalogSingleFlight>();               // load-only-bugs: single-flight cold loads
        builder.Services.AddSingleton<CatalogL1>();                         // in-process L1 (stale-cache drill)
        builder.Services.AddSingleton<CatalogChanges>();                    // L1 invalidation broadcast + commit announcements
        builder.Services.AddSingleton<CatalogReader>();                     // L1 → Redis → PostgreSQL
        builder.Services.AddHostedService<CatalogChangesSubscriber>();
        builder.Services.AddSingleton<StalenessProbe>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StalenessProbe>());
        builder.Services.AddSingleton<ReliableShop.Drills.IDrillStatsSource>(sp => sp.GetRequiredService<StalenessProbe>());
        return builder;
    }
}
