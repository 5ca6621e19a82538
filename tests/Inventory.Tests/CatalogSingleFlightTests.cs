// Guarantee (load-only-bugs, failure-modes.md §7): 100 concurrent reads of one cold catalog item load it from
// PostgreSQL ≥ 10 times with the naive lazy cache-aside (reproduce), exactly once with single-flight (contain).
// Real PostgreSQL and Redis; the reads go through the HTTP endpoint, released together.
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.FailureModes;
using ReliableShop.Inventory.Catalog;

namespace ReliableShop.Inventory.Tests;

public sealed class CatalogSingleFlightTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task ColdRead_100Concurrent_Naive_LoadsAtLeast10Times()
    {
        await SetModeAsync("reproduce");

        var loads = await ColdBurstAsync("SKU-0031");

        Assert.True(loads >= 10, $"only {loads} loads for 100 concurrent cold reads");
    }

    [Fact]
    public async Task ColdRead_100Concurrent_SingleFlight_LoadsExactlyOnce_EveryTime()
    {
        await SetModeAsync("contain");
        try
        {
            foreach (var sku in new[] { "SKU-0032", "SKU-0033", "SKU-0034" })
            {
                Assert.Equal(1, await ColdBurstAsync(sku));
            }
        }
        finally
        {
            await SetModeAsync("off");
        }
    }

    private async Task<long> ColdBurstAsync(string sku)
    {
        using var admin = shared.App.CreateAdminClient();
        (await shared.Client.GetAsync($"/api/catalog/items/{sku}", ct)).EnsureSuccessStatusCode(); // cached (warm) …
        (await admin.PutAsJsonAsync($"/admin/catalog/items/{sku}", new { available = 500 }, ct)).EnsureSuccessStatusCode(); // … changed (L1 dropped) …
        // … and cold: a change writes the committed row back to Redis (stale-cache's refresh-after-commit), so the key
        // is taken away the way an expiry or an eviction would take it.
        await shared.App.Redis.KeyDeleteAsync(shared.App.KeyPrefix + sku);
        using var counters = new CacheCounters(shared.App);
        var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reads = Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
        {
            await barrier.Task;
            using var response = await shared.Client.GetAsync($"/api/catalog/items/{sku}", ct);
            return response.StatusCode;
        }, ct)).ToList();
        barrier.SetResult();
        Assert.All(await Task.WhenAll(reads), status => Assert.Equal(HttpStatusCode.OK, status));
        return counters[CacheMetrics.LoadsName];
    }

    private async Task SetModeAsync(string state)
    {
        using var admin = shared.App.CreateAdminClient();
        using var response = await admin.PutAsJsonAsync("/admin/failure-modes/load-only-bugs", new { state }, ct);
        Assert.True(response.IsSuccessStatusCode, $"PUT load-only-bugs {state}: {(int)response.StatusCode}");
        Assert.Equal(state, shared.App.Services.GetRequiredService<FailureModeToggles>().StateOf("load-only-bugs").ToString(), ignoreCase: true);
    }
}
