// Inventory prices over HTTP with Inventory's OWN resilience pipeline (section Resilience:Inventory, breaker
// "inventory"): a Payment outage cannot open it. GET prices is idempotent, so it is retried. overload — reproduce:
// the naive pipeline (ClientPaths.ForInventory).
// Doc: docs/failure-modes/circuit-breaker.md
using System.Net.Http.Json;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Clients;

public sealed class InventoryClient(IHttpClientFactory clients, FailureModeToggles toggles, OrderingMetrics metrics)
{
    public const string Dependency = "inventory";

    /// <summary>Current prices of <paramref name="skus"/>; unknown SKUs are absent from the result.</summary>
    public async Task<IReadOnlyDictionary<string, decimal>> GetPricesAsync(IEnumerable<string> skus, CancellationToken ct)
    {
        var query = string.Join(',', skus.Select(Uri.EscapeDataString));
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/catalog/prices?skus={query}").Idempotent();
        using var response = await DependencyUnavailableException.SendAsync(
            clients.CreateClient(ClientPaths.ClientName(Dependency, ClientPaths.ForInventory(toggles.Current))), Dependency, request, metrics, ct);
        response.EnsureSuccessStatusCode();
        var prices = await response.Content.ReadFromJsonAsync<List<SkuPrice>>(ct) ?? [];
        return prices.ToDictionary(p => p.Sku, p => p.Price, StringComparer.Ordinal);
    }

    private sealed record SkuPrice(string Sku, decimal Price);
}
