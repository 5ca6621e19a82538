// Registers the OrderPlaced consumer (queue "inventory-order-placed") and Inventory's outbox relay for its events.
using MassTransit;
using ReliableShop.Contracts;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Reservations;

public static class ReservationsExtensions
{
    public static IHostApplicationBuilder AddReservations(this IHostApplicationBuilder builder)
    {
        builder.AddMessaging(bus =>
        {
            bus.AddConsumer<OrderPlacedConsumer, OrderPlacedConsumerDefinition>();
            bus.AddConsumer<Catalog.CatalogItemChangedConsumer, Catalog.CatalogItemChangedConsumerDefinition>(); // outbox-driven cache invalidation (stale-cache)
        });
        builder.Services.AddOutbox(types => types.Add<StockReserved>().Add<StockRejected>().Add<CatalogItemChanged>());
        builder.Services.AddSingleton<StockReservation>();
        builder.Services.AddSingleton<PoisonInjection>(); // background-jobs drill: malformed StockReserved
        return builder;
    }
}
