// Inventory's sections of GET /admin/stats: cache hits/misses/loads/errors/stale writes refused (stale-cache drill),
// outbox backlog, and OrderPlaced deliveries (redeliveries, duplicates absorbed). POST /admin/stats/reset zeroes the
// counts; the outbox backlog is state and stays. Doc: docs/architecture.md ("Measuring drills")
using System.Diagnostics.Metrics;
using ReliableShop.Drills;
using ReliableShop.Inventory.Catalog;
using ReliableShop.Inventory.Reservations;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Admin;

public static class InventoryStats
{
    public static IServiceCollection AddInventoryStats(this IServiceCollection services) => services
        .AddSingleton<IDrillStatsSource, CacheStatsSource>()
        .AddDrillStatsSection("outbox", (sp, ct) => sp.GetRequiredService<OutboxAdmin>().GetStatsAsync(ct))
        .AddSingleton(sp => new ConsumerStats(sp.GetRequiredService<IMeterFactory>(), OrderPlacedConsumer.StatsName))
        .AddSingleton<IDrillStatsSource>(sp => sp.GetRequiredService<ConsumerStats>());

    private sealed class CacheStatsSource(CacheMetrics metrics) : IDrillStatsSource
    {
        public string Section => "cache";
        public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(metrics.Snapshot());
        public void Reset() => metrics.Reset();
    }
}
