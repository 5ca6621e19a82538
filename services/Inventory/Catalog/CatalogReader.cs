// Item reads, layered: in-process L1 → Redis (CatalogCache: cache-aside, versioned) → PostgreSQL. The L1 saves the
// network hop for hot items; what keeps it honest is the invalidation broadcast (CatalogChanges) and a TTL within the
// staleness budget (Cache:L1TtlMs). Doc: docs/failure-modes/stale-cache.md
using Microsoft.Extensions.Options;
using ReliableShop.FailureModes;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogReader(
    CatalogL1 l1, CatalogSingleFlight flights, CatalogChanges changes, CacheMetrics metrics, FailureModeToggles toggles, IOptions<CacheOptions> options)
{
    private readonly CacheOptions settings = options.Value;

    public async Task<CatalogItem?> GetAsync(string sku, CancellationToken ct)
    {
        if (l1.Get(sku, L1Ttl()) is { } local)
        {
            metrics.L1Hit();
            changes.CountServed(local);
            return local;
        }
        var item = await flights.GetAsync(sku, ct); // Redis → PostgreSQL, single-flight in load-only-bugs contain
        if (item is not null) l1.Set(item, L1Ttl());
        return item;
    }

    internal TimeSpan L1Ttl()
    {
        var mode = toggles[CatalogCache.Mode];
        // NAIVE (stale-cache: reproduce): the L1 keeps entries as long as Redis does (ttlSeconds), and no broadcast drops
        // them (CatalogCache.InvalidateAsync): a replica serves its copy long after the change committed.
        // CONTROL: an L1 TTL within the staleness budget, on top of the broadcast.
        return mode.Naive ? TimeSpan.FromSeconds(mode["ttlSeconds"]) : TimeSpan.FromMilliseconds(settings.L1TtlMs);
    }
}
