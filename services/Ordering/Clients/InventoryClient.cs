// Inventory prices over HTTP with Inventory's OWN resilience pipeline (section Resilience:Inventory, breaker
// "inventory"): a Payment outage cannot open it. GET prices is idempotent, so it is retried.
// Doc: docs/failure-modes/circuit-breaker.md
using System.Net.Http.Json;
using Microsoft.Extensions.Options;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Clients;

public sealed class InventoryClient(HttpClient http)
{
    public const string Dependency = "inventory";

    /// <summary>Current prices of <paramref name="skus"/>; unknown SKUs are absent from the result.</summary>
    public async Task<IReadOnlyDictionary<string, decimal>> GetPricesAsync(IEnumerable<string> skus, CancellationToken ct)
    {
        var query = string.Join(',', skus.Select(Uri.EscapeDataString));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/catalog/prices?skus={query}").Idempotent();
        using var response = await DependencyUnavailableException.SendAsync(http, Dependency, request, ct);
        response.EnsureSuccessStatusCode();
        var prices = await response.Content.ReadFromJsonAsync<List<SkuPrice>>(ct) ?? [];
        return prices.ToDictionary(p => p.Sku, p => p.Price, StringComparer.Ordinal);
    }

    private sealed record SkuPrice(string Sku, decimal Price);
}

public static class InventoryClientRegistration
{
    public static IServiceCollection AddInventoryClient(this IServiceCollection services)
    {
        services.AddValidatedOptions<InventoryResilienceOptions>(InventoryResilienceOptions.SectionName);
        var client = services.AddHttpClient<InventoryClient>((sp, http) =>
        {
            http.BaseAddress = new Uri(sp.GetRequiredService<IOptions<ServicesOptions>>().Value.Inventory);
            http.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's TotalTimeout is the one budget
        });
        client.AddResilienceHandler(InventoryClient.Dependency, (pipeline, context) => ClientResilience.Configure(
            pipeline, InventoryClient.Dependency,
            context.ServiceProvider.GetRequiredService<IOptions<InventoryResilienceOptions>>().Value,
            context.ServiceProvider.GetRequiredService<OrderingMetrics>()));
        // Added after (= inside) the resilience handler: it sees every attempt, not just the logical call.
        client.AddHttpMessageHandler(sp => new AttemptHeaderHandler(InventoryClient.Dependency, sp.GetRequiredService<OrderingMetrics>()));
        return services;
    }
}
