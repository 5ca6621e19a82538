// Registration of order fulfilment beside its code: the two stock consumers (with their retry definitions) and the
// job queue with the capture/void handlers. Doc: docs/failure-modes/background-jobs.md
using MassTransit;
using ReliableShop.Jobs;
using ReliableShop.Ordering.JobQueueDrill;

namespace ReliableShop.Ordering.Fulfilment;

public static class FulfilmentExtensions
{
    /// <summary>Consumers; queues "ordering-stock-reserved" and "ordering-stock-rejected".</summary>
    public static void AddFulfilmentConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<StockReservedConsumer, StockReservedConsumerDefinition>();
        bus.AddConsumer<StockRejectedConsumer, StockRejectedConsumerDefinition>();
    }

    public static IServiceCollection AddFulfilmentJobs(this IServiceCollection services) =>
        services
            .AddSingleton<BackgroundJobsFaults>() // background-jobs toggle + its /admin/stats section
            .AddSingleton<ReliableShop.Drills.IDrillStatsSource>(sp => sp.GetRequiredService<BackgroundJobsFaults>())
            .AddSingleton<ErrorQueues>()          // _error queue depths (stats + gauge) and replay
            .AddSingleton<ReliableShop.Drills.IDrillStatsSource>(sp => sp.GetRequiredService<ErrorQueues>())
            .AddJobs()
            .AddJobHandler<CapturePaymentJob>(CapturePaymentJob.Kind)
            .AddJobHandler<VoidPaymentJob>(VoidPaymentJob.Kind)
            .AddJobHandler<AuthorizePaymentJob>(AuthorizePaymentJob.Kind)
            .AddJobQueueDrill(); // JobQueueDrill/: skip-locked-queue toggle + drill job kind
}
