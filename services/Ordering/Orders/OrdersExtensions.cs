// Registration of the orders endpoints' services: limits (section "Orders"), .NET 10 validation, and the mapping of
// unbindable bodies to 400 ProblemDetails. Doc: docs/failure-modes/load-only-bugs.md
namespace ReliableShop.Ordering.Orders;

public static class OrdersExtensions
{
    public static IServiceCollection AddOrders(this IServiceCollection services)
    {
        services.AddValidatedOptions<OrdersOptions>(OrdersOptions.SectionName);
        services.AddValidation(); // DataAnnotations on PlaceOrderRequest run before the handler
        services.AddJsonFieldNamesInProblems(); // ...and their error keys become JSON paths ("items[0].quantity")
        // Throw BadHttpRequestException (mapped to a named 400 by BadRequestExceptionHandler) instead of a bare 400.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddSingleton<OrderWritePool>();                 // OrderPlacement.cs: the pool placements write through
        services.AddSingleton<PlacementTimings>();               // PlacementTimings.cs: pool wait vs SQL
        services.AddSingleton<PaymentPendingBacklog>();          // PaymentPendingBacklog.cs: the fallback's bound
        services.AddSingleton<ReliableShop.Drills.IDrillStatsSource>(sp => sp.GetRequiredService<PlacementTimings>());
        services.AddSingleton<ReliableShop.Drills.IDrillStatsSource, CartStats>(); // CartCheckout.cs: duplicate orders per cart
        // OutboxToggle.cs: the outbox drill's dual-write variants and the relay's crash hook (replaces NoOutboxFaults).
        services.AddSingleton<OutboxToggle>();
        services.AddSingleton<ReliableShop.Outbox.IOutboxFaults>(sp => sp.GetRequiredService<OutboxToggle>());
        return services;
    }
}
