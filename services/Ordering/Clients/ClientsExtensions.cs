// Registers Ordering's outbound clients: base addresses (section "Services") and one typed client per dependency,
// each with its own resilience pipeline declared beside it (InventoryClient.cs, PaymentClient.cs).
// Doc: docs/failure-modes/circuit-breaker.md
namespace ReliableShop.Ordering.Clients;

public static class ClientsExtensions
{
    public static IServiceCollection AddDependencyClients(this IServiceCollection services)
    {
        services.AddValidatedOptions<ServicesOptions>(ServicesOptions.SectionName);
        services.AddInventoryClient();
        services.AddPaymentClient();
        return services;
    }
}
