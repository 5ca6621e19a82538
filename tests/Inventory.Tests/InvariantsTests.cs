// Guarantee: received counts every unit ever made available (admin stock + units already reserved, kept in step under
// concurrent reservations), so GET /admin/invariants flags an oversell even when a lost update kept stock >= 0; the
// outcomes list and the stats sections ("cache", "outbox", "consumers") report what happened.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Contracts;
using ReliableShop.Inventory.Reservations;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class InvariantsTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    private StockReservation Reservation => shared.App.Services.GetRequiredService<StockReservation>();

    [Fact]
    public async Task UpdateStock_AfterReservations_ReceivedIsNewStockPlusReservedUnits()
    {
        using var admin = shared.App.CreateAdminClient();
        await Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-0030", 3)], Guid.NewGuid(), ct);
        await Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-0030", 4)], Guid.NewGuid(), ct);

        using var response = await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0030", new { available = 50 }, ct);

        response.EnsureSuccessStatusCode();
        Assert.Equal((50L, 57L), (await AvailableAsync("SKU-0030"), await ReceivedAsync("SKU-0030")));
    }

    [Fact]
    public async Task UpdateStock_ConcurrentWithReservations_ReceivedStaysStockPlusReserved()
    {
        using var admin = shared.App.CreateAdminClient();
        (await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0031", new { available = 20 }, ct)).EnsureSuccessStatusCode();

        var reservations = Enumerable.Range(0, 30).Select(_ =>
            Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-0031", 1)], Guid.NewGuid(), ct));
        var updates = Enumerable.Range(0, 10).Select(async _ =>
            (await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0031", new { available = 20 }, ct)).EnsureSuccessStatusCode());
        await Task.WhenAll([.. reservations, .. updates]);

        var reserved = await shared.App.ScalarAsync<long>("SELECT sum(quantity) FROM reservations WHERE sku = 'SKU-0031'");
        Assert.Equal(await AvailableAsync("SKU-0031") + reserved, await ReceivedAsync("SKU-0031"));
    }

    [Fact]
    public async Task Invariants_LostUpdateOversellBuiltBySql_ReportsOneOversoldSkuWithStockNeverNegative()
    {
        using var admin = shared.App.CreateAdminClient();
        (await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0032", new { available = 1 }, ct)).EnsureSuccessStatusCode();
        // Two naive reservations both read available = 1, both wrote 1 - 1 = 0: two units sold, one was there.
        await shared.App.ExecuteAsync("""
            INSERT INTO reservations (order_id, sku, quantity) VALUES (gen_random_uuid(), 'SKU-0032', 1), (gen_random_uuid(), 'SKU-0032', 1);
            UPDATE catalog_items SET available = 0, version = version + 1 WHERE sku = 'SKU-0032';
            """);

        using var report = JsonDocument.Parse(await admin.GetStringAsync("/admin/invariants", ct));

        var violations = report.RootElement.GetProperty("violations");
        Assert.Equal("inventory", report.RootElement.GetProperty("service").GetString());
        Assert.Equal((1, 0), (violations.GetProperty("oversoldSkus").GetInt64(), violations.GetProperty("negativeStock").GetInt64()));
        Assert.Equal(violations.EnumerateObject().Sum(v => v.Value.GetInt64()), report.RootElement.GetProperty("total").GetInt64());
        Assert.Equal(0L, await AvailableAsync("SKU-0032"));
    }

    [Fact]
    public async Task Invariants_WithoutAdminKey_Returns401()
    {
        using var response = await shared.Client.GetAsync("/admin/invariants/outcomes", ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Outcomes_ReservedAndRejectedOrders_ListsEachWithTheUnitsItHolds()
    {
        using var admin = shared.App.CreateAdminClient();
        var (reserved, rejected) = (Guid.NewGuid(), Guid.NewGuid());
        await Reservation.ReserveAsync(reserved, [new OrderLine("SKU-0033", 2), new OrderLine("SKU-0034", 1)], Guid.NewGuid(), ct);
        await Reservation.ReserveAsync(rejected, [new OrderLine("SKU-0033", 5000)], Guid.NewGuid(), ct);

        var outcomes = await admin.GetFromJsonAsync<List<OutcomeDto>>("/admin/invariants/outcomes", ct);

        Assert.Contains(new OutcomeDto(reserved, "reserved", 3), outcomes!);
        Assert.Contains(new OutcomeDto(rejected, "rejected", 0), outcomes!);
    }

    [Fact]
    public async Task Stats_CacheReadsAndDuplicateDelivery_CountedThenResetToZero()
    {
        using var admin = shared.App.CreateAdminClient();
        (await admin.PostAsync("/admin/stats/reset", null, ct)).EnsureSuccessStatusCode();
        await shared.Client.GetStringAsync("/api/catalog/items/SKU-0035", ct); // miss + load, then cached
        await Eventually.WaitAsync(async () =>
        {
            await shared.Client.GetStringAsync("/api/catalog/items/SKU-0035", ct);
            return (await StatsAsync(admin)).GetProperty("cache").GetProperty("hits").GetInt64();
        }, hits => hits >= 1, TimeSpan.FromSeconds(5), "a cache hit");
        var harness = shared.App.Services.GetTestHarness();
        var (order, messageId) = (new OrderPlaced(Guid.NewGuid(), [new OrderLine("SKU-0036", 1)]), NewId.NextGuid());
        await harness.Bus.Publish(order, c => c.MessageId = messageId, ct);
        await harness.Bus.Publish(order, c => c.MessageId = messageId, ct);

        var consumers = await Eventually.WaitAsync(async () => (await StatsAsync(admin)).GetProperty("consumers").GetProperty("orderPlaced"),
            c => c.GetProperty("received").GetInt64() == 2 && c.GetProperty("duplicates").GetInt64() == 1,
            TimeSpan.FromSeconds(20), "both deliveries counted");
        (await admin.PostAsync("/admin/stats/reset", null, ct)).EnsureSuccessStatusCode();
        var after = await StatsAsync(admin);

        Assert.Equal(0, consumers.GetProperty("redeliveries").GetInt64());
        Assert.True(after.GetProperty("outbox").TryGetProperty("pending", out _), after.ToString());
        Assert.Equal((0, 0), (after.GetProperty("cache").GetProperty("hits").GetInt64(),
            after.GetProperty("consumers").GetProperty("orderPlaced").GetProperty("received").GetInt64()));
    }

    private async Task<JsonElement> StatsAsync(HttpClient admin)
    {
        using var json = JsonDocument.Parse(await admin.GetStringAsync("/admin/stats", ct));
        return json.RootElement.Clone();
    }

    private Task<long> AvailableAsync(string sku) => shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = $1", sku);

    private Task<long> ReceivedAsync(string sku) => shared.App.ScalarAsync<long>("SELECT received FROM catalog_items WHERE sku = $1", sku);

    private sealed record OutcomeDto(Guid OrderId, string Outcome, int Units);
}
