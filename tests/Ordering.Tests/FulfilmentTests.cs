// Stock events → job queue → Payment: the consumers' logic runs in one transaction with the inbox, so a message
// delivered twice (same MessageId) or re-sent (new MessageId) captures or voids exactly once, and the order ends
// Confirmed or Cancelled. The consumers' core is invoked directly: on the shared test broker, another test host's
// endpoint could compete for a published message.
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Contracts;
using ReliableShop.Ordering.Fulfilment;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class FulfilmentFixture : AppFixture;

public sealed class FulfilmentTests(FulfilmentFixture fixture) : IClassFixture<FulfilmentFixture>
{
    private readonly OrderingApp _app = fixture.App;

    [Fact]
    public async Task StockReserved_DeliveredTwiceAndResent_CapturesOnceAndConfirms()
    {
        var (orderId, authorizationId) = await PlaceAsync("SKU-0040");
        var consumer = ActivatorUtilities.CreateInstance<StockReservedConsumer>(_app.Services);
        var messageId = Guid.NewGuid();

        Assert.True(await consumer.HandleAsync(messageId, new StockReserved(orderId), Requests.Ct));
        Assert.False(await consumer.HandleAsync(messageId, new StockReserved(orderId), Requests.Ct)); // redelivery: inbox
        Assert.True(await consumer.HandleAsync(Guid.NewGuid(), new StockReserved(orderId), Requests.Ct)); // re-sent: accepted, moves nothing

        await WaitForStatusAsync(orderId, "Confirmed");
        Assert.Equal(1, _app.Payment.CapturesOf(authorizationId));
        Assert.Equal(0, _app.Payment.VoidsOf(authorizationId));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_app.ConnectionString, "SELECT count(*) FROM jobs WHERE unique_key = $1", $"capture:{orderId}"));
        Assert.Equal(new[] { "Placed", "Reserved", "Confirmed" }, await HistoryAsync(orderId));
        Assert.Equal(authorizationId, await Db.ScalarAsync<Guid>(_app.ConnectionString, "SELECT payment_authorization_id FROM orders WHERE id = $1", orderId));
    }

    [Fact]
    public async Task StockReserved_RedeliveredAfterCrashAfterCommit_OneConfirmationAndReconciliationClean()
    {
        // background-jobs contain: the confirmation commits with the inbox row, so the redelivery a crash before the
        // ack causes (same MessageId) and a re-sent event (new MessageId) send nothing more.
        var (orderId, _) = await PlaceAsync("SKU-0043");
        var consumer = ActivatorUtilities.CreateInstance<StockReservedConsumer>(_app.Services);
        var messageId = Guid.NewGuid();

        Assert.True(await consumer.HandleAsync(messageId, new StockReserved(orderId), Requests.Ct));
        Assert.False(await consumer.HandleAsync(messageId, new StockReserved(orderId), Requests.Ct));
        Assert.True(await consumer.HandleAsync(Guid.NewGuid(), new StockReserved(orderId), Requests.Ct));

        await WaitForStatusAsync(orderId, "Confirmed");
        Assert.Equal(1L, await Db.ScalarAsync<long>(_app.ConnectionString, "SELECT count(*) FROM order_confirmations WHERE order_id = $1", orderId));
        Assert.Equal(0L, await Db.ScalarAsync<long>(_app.ConnectionString,
            ReliableShop.Ordering.Invariants.OrderingInvariants.ConfirmationsNotExactlyOneSql + " AND o.id = $1", orderId));
    }

    [Fact]
    public async Task StockRejected_DeliveredTwice_VoidsOnceAndCancels()
    {
        var (orderId, authorizationId) = await PlaceAsync("SKU-0041");
        var consumer = ActivatorUtilities.CreateInstance<StockRejectedConsumer>(_app.Services);
        var messageId = Guid.NewGuid();

        Assert.True(await consumer.HandleAsync(messageId, new StockRejected(orderId, "SKU-0041 short by 1"), Requests.Ct));
        Assert.False(await consumer.HandleAsync(messageId, new StockRejected(orderId, "SKU-0041 short by 1"), Requests.Ct));

        await WaitForStatusAsync(orderId, "Cancelled");
        Assert.Equal(1, _app.Payment.VoidsOf(authorizationId));
        Assert.Equal(0, _app.Payment.CapturesOf(authorizationId));
        Assert.Equal(new[] { "Placed", "Rejected", "Cancelled" }, await HistoryAsync(orderId));
    }

    [Fact]
    public async Task CaptureJob_AuthorizationVoided_GoesStraightToDeadWithoutRetries()
    {
        var (orderId, authorizationId) = await PlaceAsync("SKU-0042");
        _app.Payment.MarkVoided(authorizationId);
        var consumer = ActivatorUtilities.CreateInstance<StockReservedConsumer>(_app.Services);

        Assert.True(await consumer.HandleAsync(Guid.NewGuid(), new StockReserved(orderId), Requests.Ct));

        await Eventually.WaitAsync(
            () => Db.ScalarAsync<string>(_app.ConnectionString, "SELECT state FROM jobs WHERE unique_key = $1", $"capture:{orderId}"),
            s => s == "dead", TimeSpan.FromSeconds(20), "capture job dead");
        Assert.Equal(1, _app.Payment.CapturesOf(authorizationId)); // a 409 is permanent: no retry
        Assert.Equal("Reserved", await Db.ScalarAsync<string>(_app.ConnectionString, "SELECT status FROM orders WHERE id = $1", orderId));
    }

    private async Task<(Guid OrderId, Guid AuthorizationId)> PlaceAsync(string sku)
    {
        using var response = await fixture.Client.PlaceAsync(Requests.NewKey(), Requests.Body((sku, 1)));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = await response.JsonAsync();
        return (order.GetProperty("id").GetGuid(), order.GetProperty("paymentAuthorizationId").GetGuid());
    }

    private Task WaitForStatusAsync(Guid orderId, string status) => Eventually.WaitAsync(
        () => Db.ScalarAsync<string>(_app.ConnectionString, "SELECT status FROM orders WHERE id = $1", orderId),
        s => s == status, TimeSpan.FromSeconds(20), $"order {orderId} {status}");

    private async Task<string[]> HistoryAsync(Guid orderId)
    {
        using var response = await fixture.Client.GetAsync($"/api/orders/{orderId}", Requests.Ct);
        return [.. (await response.JsonAsync()).GetProperty("history").EnumerateArray().Select(h => h.GetProperty("status").GetString()!)];
    }
}
