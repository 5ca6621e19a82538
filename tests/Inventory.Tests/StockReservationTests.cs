// Guarantee: reservation is atomic and all-or-nothing under concurrency — stock never below zero, exactly as many
// reservations as units, a duplicate delivery changes nothing (inbox), and each outcome has its outbox event.
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Contracts;
using ReliableShop.Inventory.Catalog;
using ReliableShop.Inventory.Reservations;

namespace ReliableShop.Inventory.Tests;

public sealed class StockReservationTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private const string Reserved = "ReliableShop.Contracts.StockReserved";
    private const string Rejected = "ReliableShop.Contracts.StockRejected";
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    private StockReservation Reservation => shared.App.Services.GetRequiredService<StockReservation>();

    [Fact]
    public async Task Reserve_150ConcurrentSingleUnitsOf100InStock_Exactly100ReservedAndStockZero()
    {
        await SetStockAsync("SKU-0010", 100);

        var results = await Task.WhenAll(Enumerable.Range(0, 150).Select(_ =>
            Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-0010", 1)], Guid.NewGuid(), ct)));

        Assert.Equal((100, 50), (results.Count(r => r == ReservationResult.Reserved), results.Count(r => r == ReservationResult.Rejected)));
        Assert.Equal(0L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0010'"));
        Assert.Equal(100L, await shared.App.ScalarAsync<long>("SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sku = 'SKU-0010'"));
        Assert.Equal(100L, await OutboxCountAsync(Reserved, "SKU-0010"));
        Assert.Equal(50L, await OutboxCountAsync(Rejected, "SKU-0010"));
    }

    [Fact]
    public async Task Reserve_SameMessageIdTwice_SecondIsANoOp()
    {
        await SetStockAsync("SKU-0011", 10);
        var (orderId, messageId) = (Guid.NewGuid(), Guid.NewGuid());

        var first = await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0011", 3)], messageId, ct);
        var second = await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0011", 3)], messageId, ct);

        Assert.Equal((ReservationResult.Reserved, ReservationResult.Duplicate), (first, second));
        Assert.Equal(7L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0011'"));
        Assert.Equal(1L, await shared.App.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE payload->>'orderId' = $1", orderId.ToString()));
    }

    [Fact]
    public async Task Reserve_SameOrderUnderANewMessageId_ReservesOnlyOnce()
    {
        await SetStockAsync("SKU-0012", 10);
        var orderId = Guid.NewGuid();

        await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0012", 4)], Guid.NewGuid(), ct);
        var again = await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0012", 4)], Guid.NewGuid(), ct);

        Assert.Equal(ReservationResult.Duplicate, again);
        Assert.Equal(6L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0012'"));
        // The stored decision is announced again (a replay heals an outcome event Ordering missed), never a new one.
        Assert.Equal(2L, await shared.App.ScalarAsync<long>(
            "SELECT count(*) FROM outbox_messages WHERE message_type = $1 AND payload->>'orderId' = $2", Reserved, orderId.ToString()));
    }

    [Fact]
    public async Task Reserve_RejectedOrderUnderANewMessageId_AnnouncesTheStoredRejectionAgain()
    {
        await SetStockAsync("SKU-0018", 1);
        var orderId = Guid.NewGuid();

        await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0018", 2)], Guid.NewGuid(), ct);
        await SetStockAsync("SKU-0018", 5); // enough now: a second decision would reserve
        var again = await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0018", 2)], Guid.NewGuid(), ct);

        Assert.Equal(ReservationResult.Duplicate, again);
        Assert.Equal(5L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0018'"));
        var reasons = await shared.App.ScalarAsync<string>(
            "SELECT string_agg(payload->>'reason', '|') FROM outbox_messages WHERE message_type = $1 AND payload->>'orderId' = $2",
            Rejected, orderId.ToString());
        Assert.Equal(["SKU-0018: insufficient stock (requested 2, available 1)", "SKU-0018: insufficient stock (requested 2, available 1)"], reasons!.Split('|'));
    }

    [Fact]
    public async Task Reserve_OneShortLine_ReservesNothingAndEnqueuesStockRejected()
    {
        await SetStockAsync("SKU-0013", 50);
        await SetStockAsync("SKU-0014", 2);
        var orderId = Guid.NewGuid();

        var result = await Reservation.ReserveAsync(orderId, [new OrderLine("SKU-0014", 5), new OrderLine("SKU-0013", 1)], Guid.NewGuid(), ct);

        Assert.Equal(ReservationResult.Rejected, result);
        Assert.Equal(50L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0013'"));
        Assert.Equal(2L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0014'"));
        Assert.Equal(0L, await shared.App.ScalarAsync<long>("SELECT count(*) FROM reservations WHERE order_id = $1", orderId));
        Assert.Equal("rejected", await shared.App.ScalarAsync<string>("SELECT outcome FROM reservation_outcomes WHERE order_id = $1", orderId));
        var reason = await shared.App.ScalarAsync<string>(
            "SELECT payload->>'reason' FROM outbox_messages WHERE message_type = $1 AND payload->>'orderId' = $2", Rejected, orderId.ToString());
        Assert.StartsWith("SKU-0014: insufficient stock", reason);
    }

    [Fact]
    public async Task Reserve_UnknownSkuOrNonPositiveQuantity_Rejected()
    {
        var unknown = await Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-9999", 1)], Guid.NewGuid(), ct);
        var zero = await Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-0015", 0)], Guid.NewGuid(), ct);

        Assert.Equal((ReservationResult.Rejected, ReservationResult.Rejected), (unknown, zero));
        Assert.Equal(1000L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0015'"));
    }

    [Fact]
    public async Task Reserve_CachedItem_NextReadShowsTheReducedStock()
    {
        await SetStockAsync("SKU-0016", 20);
        var before = await shared.Client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/SKU-0016", ct); // cached

        await Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine("SKU-0016", 5)], Guid.NewGuid(), ct);
        var after = await shared.Client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/SKU-0016", ct);

        Assert.Equal((20, 15), (before!.Available, after!.Available));
    }

    [Fact]
    public async Task Reserve_EveryOutcome_HasExactlyOneOutboxEvent()
    {
        await SetStockAsync("SKU-0017", 3);
        var orders = Enumerable.Range(0, 6).Select(_ => Guid.NewGuid()).ToArray();
        await Task.WhenAll(orders.Select(order =>
            Reservation.ReserveAsync(order, [new OrderLine("SKU-0017", 1)], Guid.NewGuid(), ct)));

        // This test's orders only: the class shares one database, and the re-send tests announce an outcome twice.
        var (outcomes, mismatched) = (await shared.App.ScalarAsync<long>("SELECT count(*) FROM reservation_outcomes WHERE order_id = ANY($1)", orders),
            await shared.App.ScalarAsync<long>("""
            SELECT count(*) FROM reservation_outcomes o
            WHERE o.order_id = ANY($3)
              AND (SELECT count(*) FROM outbox_messages m WHERE m.payload->>'orderId' = o.order_id::text
                   AND m.message_type = CASE o.outcome WHEN 'reserved' THEN $1 ELSE $2 END) <> 1
            """, Reserved, Rejected, orders));

        Assert.Equal(6L, outcomes);
        Assert.Equal(0L, mismatched);
    }

    private Task SetStockAsync(string sku, int available) =>
        shared.App.ExecuteAsync("UPDATE catalog_items SET available = $2, version = version + 1 WHERE sku = $1", sku, available);

    private Task<long> OutboxCountAsync(string type, string sku) => shared.App.ScalarAsync<long>("""
        SELECT count(*) FROM outbox_messages m JOIN reservation_outcomes o ON m.payload->>'orderId' = o.order_id::text
        WHERE m.message_type = $1 AND (o.outcome = 'rejected' OR EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = o.order_id AND r.sku = $2))
          AND (o.outcome = 'reserved' OR o.reason LIKE $2 || ':%')
        """, type, sku);
}
