// Registers the OrderPlaced consumer (its endpoint is OrderPlacedIntake's, limits set by the overload toggle), the admin
// API that pauses and resumes it, and Inventory's outbox relay for its events.
using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ReliableShop.Contracts;
using ReliableShop.Drills;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Reservations;

public static class ReservationsExtensions
{
    public static IHostApplicationBuilder AddReservations(this IHostApplicationBuilder builder)
    {
        builder.AddMessaging(bus =>
        {
            bus.AddConsumer<OrderPlacedConsumer, OrderPlacedConsumerDefinition>().ExcludeFromConfigureEndpoints(); // OrderPlacedIntake connects it
            bus.AddConsumer<Catalog.CatalogItemChangedConsumer, Catalog.CatalogItemChangedConsumerDefinition>(); // outbox-driven cache invalidation (stale-cache)
        });
        builder.Services.AddOutbox(types => types.Add<StockReserved>().Add<StockRejected>().Add<CatalogItemChanged>());
        builder.Services.AddValidatedOptions<ReservationsOptions>(ReservationsOptions.SectionName);
        builder.Services.AddSingleton<BusStarted>().AddBusObserver(sp => sp.GetRequiredService<BusStarted>());
        builder.Services.AddSingleton<OrderPlacedIntake>()
            .AddHostedService(sp => sp.GetRequiredService<OrderPlacedIntake>())
            .AddSingleton<IDrillStatsSource>(sp => sp.GetRequiredService<OrderPlacedIntake>());
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            "order-placed-consumer", sp => sp.GetRequiredService<OrderPlacedIntake>(), failureStatus: null, tags: null));
        builder.Services.AddSingleton<StockReservation>();
        builder.Services.AddSingleton<PoisonInjection>(); // background-jobs drill: malformed StockReserved
        return builder;
    }
}
