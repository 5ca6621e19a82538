// Guarantee: with Redis down the service starts and every catalog read answers from PostgreSQL (errors counted, not
// thrown), admin writes still commit; when Redis returns, cache hits resume without a restart.
using System.Net;
using System.Net.Http.Json;
using ReliableShop.Inventory.Catalog;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class RedisOutageTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task GetItem_RedisUnreachableFromStart_AnswersFromPostgres()
    {
        await using var app = await InventoryApp.CreateAsync(("ConnectionStrings:redis", "127.0.0.1:1"));
        using var client = app.CreateClient();
        using var admin = app.CreateAdminClient();
        using var counters = new CacheCounters(app);

        var first = await client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/SKU-0001", ct);
        using var update = await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0001", new { price = 42.5m }, ct);
        var second = await client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/SKU-0001", ct);
        using var health = await client.GetAsync("/health", ct);

        Assert.Equal("SKU-0001", first!.Sku);
        Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        Assert.Equal(42.5m, second!.Price);
        Assert.Equal((0L, 2L), (counters[CacheMetrics.HitsName], counters[CacheMetrics.LoadsName]));
        Assert.True(counters[CacheMetrics.ErrorsName] >= 2, $"errors: {counters[CacheMetrics.ErrorsName]}");
        Assert.Equal((HttpStatusCode.OK, "Degraded"), (health.StatusCode, await health.Content.ReadAsStringAsync(ct)));
    }

    [Fact]
    public async Task GetItem_RedisCutThenRestored_AnswersThroughoutAndHitsResume()
    {
        await using var proxy = TcpProxy.For(await Servers.RedisAsync());
        proxy.Start();
        // L1 off (Cache:L1TtlMs = 0): every read goes to Redis, which is what this test cuts
        await using var app = await InventoryApp.CreateAsync(("ConnectionStrings:redis", $"127.0.0.1:{proxy.Port}"), ("Cache:L1TtlMs", "0"));
        using var client = app.CreateClient();
        using var counters = new CacheCounters(app);
        await GetAsync(client, "SKU-0002");
        await GetAsync(client, "SKU-0002");
        Assert.Equal(1L, counters[CacheMetrics.HitsName]);

        await proxy.CutAsync();
        var duringOutage = await GetAsync(client, "SKU-0002");
        proxy.Start();

        Assert.Equal(HttpStatusCode.OK, duringOutage);
        Assert.True(counters[CacheMetrics.ErrorsName] >= 1);
        await Eventually.WaitAsync(async () => { await GetAsync(client, "SKU-0002"); return counters[CacheMetrics.HitsName]; },
            hits => hits >= 2, TimeSpan.FromSeconds(30), "cache hits after Redis came back");
    }

    private async Task<HttpStatusCode> GetAsync(HttpClient client, string sku)
    {
        using var response = await client.GetAsync($"/api/catalog/items/{sku}", ct);
        return response.StatusCode;
    }
}
