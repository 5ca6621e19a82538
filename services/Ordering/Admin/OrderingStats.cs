// Ordering's sections of GET /admin/stats: dependency requests/attempts and breaker states (retry amplification,
// breaker drills), admission rejections, outbox backlog, job queue depth, and deliveries per consumer (redeliveries,
// duplicates absorbed by the inbox). POST /admin/stats/reset zeroes the counts.
using System.Diagnostics.Metrics;
using ReliableShop.Drills;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Fulfilment;
using ReliableShop.Ordering.Telemetry;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Admin;

public static class OrderingStats
{
    public static IServiceCollection AddOrderingStats(this IServiceCollection services) => services
        .AddSingleton<IDrillStatsSource, OrderingMetricsSource>()
        .AddDrillStatsSection("outbox", (sp, ct) => sp.GetRequiredService<OutboxAdmin>().GetStatsAsync(ct))
        .AddDrillStatsSection("jobs", (sp, ct) => sp.GetRequiredService<JobsAdmin>().GetStatsAsync(ct))
        .AddSingleton(sp => new ConsumerStats(sp.GetRequiredService<IMeterFactory>(), StockReservedConsumer.StatsName, StockRejectedConsumer.StatsName))
        .AddSingleton<IDrillStatsSource>(sp => sp.GetRequiredService<ConsumerStats>());

    private sealed class OrderingMetricsSource(OrderingMetrics metrics) : IDrillStatsSource
    {
        public string Section => "ordering";
        public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(metrics.Snapshot());
        public void Reset() => metrics.Reset();
    }
}
