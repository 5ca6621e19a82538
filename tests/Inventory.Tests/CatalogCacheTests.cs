// Guarantee: item reads are cache-aside with versioned values — miss → load → write-if-newer; a write never replaces
// a newer version (a stale reader loses, also after an invalidation); writers invalidate after commit; TTLs are jittered.
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Inventory.Catalog;

namespace ReliableShop.Inventory.Tests;

public sealed class CatalogCacheTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    private CatalogCache Cache => shared.App.Services.GetRequiredService<CatalogCache>();

    [Fact]
    public async Task GetItem_TwiceInARow_FirstMissesAndLoadsSecondHits()
    {
        using var counters = new CacheCounters(shared.App);

        var first = await GetItemAsync("SKU-0001");
        var afterFirst = (counters[CacheMetrics.MissesName], counters[CacheMetrics.LoadsName], counters[CacheMetrics.HitsName]);
        var second = await GetItemAsync("SKU-0001");

        Assert.Equal((1L, 1L, 0L), afterFirst);
        // the second read hits the in-process L1 (within Cache:L1TtlMs) or, past it, Redis
        Assert.Equal((1L, 1L, 1L), (counters[CacheMetrics.MissesName], counters[CacheMetrics.LoadsName],
            counters[CacheMetrics.HitsName] + counters[CacheMetrics.L1HitsName]));
        Assert.Equal(first, second);
        Assert.Equal(first.Version, await CachedVersionAsync("SKU-0001"));
    }

    [Fact]
    public async Task GetItem_AfterAdminPriceUpdate_ReturnsTheNewPrice()
    {
        var before = await GetItemAsync("SKU-0002"); // cached now
        using var admin = shared.App.CreateAdminClient();

        (await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0002", new { price = before.Price + 1 }, ct)).EnsureSuccessStatusCode();
        var after = await GetItemAsync("SKU-0002");

        Assert.Equal((before.Price + 1, before.Version + 1), (after.Price, after.Version));
    }

    [Fact]
    public async Task WriteIfNewer_OlderOrEqualVersion_DoesNotReplaceTheNewerValue()
    {
        var newer = new CatalogItem("SKU-0004", "newer", 10m, 10, 10);

        var wroteNewer = await WriteAsync(newer);
        var wroteOlder = await WriteAsync(newer with { Name = "older", Price = 9m, Version = 9 });
        var wroteEqual = await WriteAsync(newer with { Name = "equal", Price = 8m });

        Assert.Equal((true, false, false), (wroteNewer, wroteOlder, wroteEqual));
        Assert.Equal(newer, await GetItemAsync("SKU-0004")); // served from the cache: the version-10 value survived
    }

    [Fact]
    public async Task WriteIfNewer_StaleReaderAfterInvalidation_CannotWriteTheOldRowBack()
    {
        var old = await GetItemAsync("SKU-0005");
        using var admin = shared.App.CreateAdminClient();
        (await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0005", new { price = 77.77m }, ct)).EnsureSuccessStatusCode();

        // A reader that loaded the old row just before the update committed now tries to cache it.
        var staleWritten = await WriteAsync(old);

        Assert.False(staleWritten);
        Assert.Equal(77.77m, (await GetItemAsync("SKU-0005")).Price);
    }

    [Fact]
    public async Task GetItem_Cached_TtlIsWithinTheJitterBand()
    {
        await GetItemAsync("SKU-0006");

        var ttl = await shared.App.Redis.KeyTimeToLiveAsync(shared.App.KeyPrefix + "SKU-0006");

        Assert.InRange(ttl!.Value.TotalSeconds, 300 * 0.8 - 5, 300 * 1.2);
    }

    private async Task<CatalogItem> GetItemAsync(string sku) =>
        (await shared.Client.GetFromJsonAsync<CatalogItem>($"/api/catalog/items/{sku}", ct))!;

    private Task<bool> WriteAsync(CatalogItem item) =>
        Cache.TryWriteIfNewerAsync(item.Sku, item.Version, JsonSerializer.Serialize(item, JsonSerializerOptions.Web), "item");

    private async Task<long> CachedVersionAsync(string sku)
    {
        var json = await shared.App.Redis.StringGetAsync(shared.App.KeyPrefix + sku);
        return JsonDocument.Parse(json.ToString()).RootElement.GetProperty("version").GetInt64();
    }
}
