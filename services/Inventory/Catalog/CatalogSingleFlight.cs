// load-only-bugs: the cold-cache stampede. When a key is cold (absent, expired, invalidated), the naive cache-aside
// read lets EVERY concurrent reader miss and run the same load against PostgreSQL — 100 concurrent reads of one cold
// item ⇒ dozens of identical loads, exactly when the database is busiest. Correct one request at a time.
//   reproduce (and off): CatalogCache.GetAsync per request — a lazy load without single-flight.
//   contain:             single-flight per key per instance — concurrent reads of one key share ONE in-flight
//                        cache-aside read (Redis, then at most one load + write-back); a read that starts after it
//                        finished finds the value in Redis. Loads are counted in /admin/stats cache.loads.
// The flight runs on its own (not on the first caller's cancellation); each waiter stops waiting on its own token.
// Doc: docs/failure-modes/load-only-bugs.md
using System.Collections.Concurrent;
using ReliableShop.FailureModes;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogSingleFlight(CatalogCache cache, FailureModeToggles toggles)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<CatalogItem?>>> flights = new(StringComparer.Ordinal);

    public Task<CatalogItem?> GetAsync(string sku, CancellationToken ct)
    {
        if (toggles["load-only-bugs"].State != FailureModeState.Contain) return cache.GetAsync(sku, ct); // NAIVE: every miss loads
        Lazy<Task<CatalogItem?>>? flight = null;
        flight = new Lazy<Task<CatalogItem?>>(() => FlyAsync(sku, flight!));
        return flights.GetOrAdd(sku, flight).Value.WaitAsync(ct);
    }

    private async Task<CatalogItem?> FlyAsync(string sku, Lazy<Task<CatalogItem?>> flight)
    {
        await Task.Yield(); // leave GetOrAdd's caller before the read starts
        try
        {
            return await cache.GetAsync(sku, CancellationToken.None); // bounded by the Redis timeout and statement_timeout
        }
        finally
        {
            flights.TryRemove(KeyValuePair.Create(sku, flight)); // only this flight: a later one for the key stays
        }
    }
}
