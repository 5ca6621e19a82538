// Admin changes to price and stock. The cache is invalidated AFTER the UPDATE committed: invalidating first would let
// a concurrent reader re-cache the old row between the invalidation and the commit. Doc: docs/failure-modes/stale-cache.md
using Microsoft.AspNetCore.Http.HttpResults;
using ReliableShop.FailureModes;

namespace ReliableShop.Inventory.Catalog;

public sealed record UpdateItemRequest(decimal? Price, int? Available)
{
    public const decimal MaxPrice = 1_000_000m;
    public const int MaxAvailable = 1_000_000;

    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        if (Price is null && Available is null)
        {
            errors["price"] = errors["available"] = ["Give price, available, or both."];
        }
        if (Price is { } price && (price <= 0 || price > MaxPrice || decimal.Round(price, 2) != price))
        {
            errors["price"] = [$"Must be greater than 0 and at most {MaxPrice:0}, with at most 2 decimals; was {price}."];
        }
        if (Available is { } available && available is < 0 or > MaxAvailable)
        {
            errors["available"] = [$"Must be between 0 and {MaxAvailable}; was {available}."];
        }
        return errors;
    }
}

public static class CatalogAdminApi
{
    /// <summary>PUT /admin/catalog/items/{sku} (admin key required).</summary>
    public static RouteGroupBuilder MapCatalogAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapPut("/catalog/items/{sku}", UpdateItemAsync).WithTags("Admin");
        return admin;
    }

    public static async Task<Results<Ok<CatalogItem>, ValidationProblem, ProblemHttpResult>> UpdateItemAsync(
        string sku, UpdateItemRequest request, CatalogStore store, CatalogCache cache, CatalogChanges changes,
        FailureModeToggles toggles, CancellationToken ct)
    {
        var errors = request.Validate();
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        CatalogItem? item;
        if (toggles[CatalogCache.Mode].Naive)
        {
            // NAIVE (stale-cache: reproduce): invalidate BEFORE the commit, in-process only: a reader between this DEL
            // and the commit re-caches the old row, and a crash after the commit leaves nothing to invalidate later.
            await cache.InvalidateAsync([(sku, 0L)]);
            item = await store.UpdateAsync(sku, request.Price, request.Available, ct);
        }
        else
        {
            // CONTROL: the change and its CatalogItemChanged outbox row commit together; AFTER the commit the committed row
            // is written if newer + the L1 broadcast (CatalogCache.RefreshAsync), and the outbox event invalidates again
            // (CatalogItemChangedConsumer), which survives a crash between the commit and this line.
            item = await store.UpdateAsync(sku, request.Price, request.Available, ct, announce: true);
            if (item is not null) await cache.RefreshAsync(item);
        }
        if (item is null)
        {
            return CatalogApi.NotFound(sku);
        }
        await changes.AnnounceCommitAsync([(item.Sku, item.Version)]); // measurement: starts the staleness probes
        return TypedResults.Ok(item);
    }
}
