// Catalog reads: paged list and prices straight from PostgreSQL, single items through L1 → Redis → PostgreSQL.
// Prices are never served from the cache: Ordering charges what PostgreSQL says at the time of the order.
using Microsoft.AspNetCore.Http.HttpResults;
using ReliableShop.FailureModes;

namespace ReliableShop.Inventory.Catalog;

public static class CatalogApi
{
    public const int MaxPageSize = 100;
    public const int MaxPriceSkus = 50;

    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/catalog").WithTags("Catalog");
        group.MapGet("/items", ListItemsAsync);
        group.MapGet("/items/{sku}", GetItemAsync);
        group.MapGet("/prices", GetPricesAsync);
        return app;
    }

    public static async Task<Results<Ok<CatalogPage>, ValidationProblem>> ListItemsAsync(
        CatalogStore store, CancellationToken ct, int page = 1, int pageSize = 20)
    {
        var errors = new Dictionary<string, string[]>();
        if (page < 1)
        {
            errors["page"] = [$"Must be at least 1; was {page}."];
        }
        if (pageSize is < 1 or > MaxPageSize)
        {
            errors["pageSize"] = [$"Must be between 1 and {MaxPageSize}; was {pageSize}."];
        }
        return errors.Count > 0 ? TypedResults.ValidationProblem(errors) : TypedResults.Ok(await store.ListAsync(page, pageSize, ct));
    }

    public static async Task<Results<Ok<CatalogItem>, ProblemHttpResult>> GetItemAsync(string sku, CatalogReader reader, CancellationToken ct) =>
        await reader.GetAsync(sku, ct) is { } item ? TypedResults.Ok(item) : NotFound(sku);

    public static ProblemHttpResult NotFound(string sku) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Catalog item not found", detail: $"No item with SKU '{sku}'.");

    /// <summary>GET /api/catalog/prices?skus=SKU-0001,SKU-0002 → prices of the known SKUs (unknown ones are absent).</summary>
    public static async Task<Results<Ok<IReadOnlyList<SkuPrice>>, ValidationProblem>> GetPricesAsync(
        CatalogStore store, CatalogReader reader, FailureModeToggles toggles, CancellationToken ct, string? skus = null)
    {
        var requested = (skus ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Distinct(StringComparer.Ordinal).ToList();
        if (requested.Count is 0 or > MaxPriceSkus)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["skus"] = [$"Give 1 to {MaxPriceSkus} comma-separated SKUs; got {requested.Count}."],
            });
        }
        if (toggles[CatalogCache.Mode].Naive)
        {
            // NAIVE (stale-cache: reproduce): checkout reuses the product page's cached item, so an order is charged
            // whatever price the cache holds: a stale cache becomes a wrong charge.
            var cached = new List<SkuPrice>();
            foreach (var sku in requested.Order(StringComparer.Ordinal))
            {
                if (await reader.GetAsync(sku, ct) is { } item) cached.Add(new SkuPrice(item.Sku, item.Price));
            }
            return TypedResults.Ok<IReadOnlyList<SkuPrice>>(cached);
        }
        // CONTROL: the charged price is read from PostgreSQL in a transaction (CatalogStore.GetPricesAsync), never from a cache.
        return TypedResults.Ok(await store.GetPricesAsync(requested, ct));
    }
}
