// Redis is an optimisation here, not a dependency: when it is unreachable the catalog answers from PostgreSQL, so
// health reports Degraded (HTTP 200, still in rotation) rather than Unhealthy (503, taken out of rotation).
using Microsoft.Extensions.Diagnostics.HealthChecks;
using StackExchange.Redis;

namespace ReliableShop.Inventory.Catalog;

public sealed class RedisCacheHealthCheck(IConnectionMultiplexer redis) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(redis.IsConnected
            ? HealthCheckResult.Healthy("Redis connected: catalog items are served cache-aside.")
            : HealthCheckResult.Degraded("Redis unreachable: catalog items are served from PostgreSQL."));
}
