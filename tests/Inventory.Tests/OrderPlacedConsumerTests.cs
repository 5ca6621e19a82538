// Guarantee: an OrderPlaced delivered over the bus reserves stock and the outcome event reaches the bus through the
// outbox relay; a redelivery of the same message (same MessageId) is absorbed by the inbox.
using MassTransit;
using MassTransit.Testing;
using ReliableShop.Contracts;
using ReliableShop.Inventory.Reservations;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class OrderPlacedConsumerTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task OrderPlaced_DeliveredTwiceWithOneMessageId_ReservesOnceAndPublishesStockReserved()
    {
        var harness = shared.App.Services.GetTestHarness();
        var consumed = new ConsumeCounter();
        using var observer = harness.Bus.ConnectConsumeObserver(consumed);
        var (orderId, messageId) = (Guid.NewGuid(), NewId.NextGuid());
        var order = new OrderPlaced(orderId, [new OrderLine("SKU-0020", 2)]);

        await harness.Bus.Publish(order, c => c.MessageId = messageId, ct);
        await harness.Bus.Publish(order, c => c.MessageId = messageId, ct);

        // The last value of a timeout names the attempts that threw, if any (a retried transient fault is fine).
        await Eventually.WaitAsync(() => Task.FromResult(consumed.Of(orderId)), d => d.Consumed == 2, Timeout, "both deliveries consumed");
        await WaitForPublishedAsync<StockReserved>(harness, m => m.OrderId == orderId);
        Assert.Equal(998L, await shared.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = 'SKU-0020'"));
        Assert.Equal(1L, await shared.App.ScalarAsync<long>(
            "SELECT count(*) FROM inbox_messages WHERE consumer = $1 AND message_id = $2", StockReservation.InboxConsumer, messageId));
    }

    [Fact]
    public async Task OrderPlaced_ShortStock_PublishesStockRejectedWithReason()
    {
        var harness = shared.App.Services.GetTestHarness();
        var orderId = Guid.NewGuid();

        await harness.Bus.Publish(new OrderPlaced(orderId, [new OrderLine("SKU-0021", 5000)]), ct);

        var rejected = await WaitForPublishedAsync<StockRejected>(harness, m => m.OrderId == orderId);
        Assert.StartsWith("SKU-0021: insufficient stock", rejected.Reason);
    }

    private static async Task<T> WaitForPublishedAsync<T>(ITestHarness harness, Func<T, bool> match) where T : class
    {
        var found = await Eventually.WaitAsync(
            () => Task.FromResult(harness.Published.Select<T>().Select(m => m.Context.Message).FirstOrDefault(match)),
            m => m is not null, Timeout, $"{typeof(T).Name} published by the outbox relay");
        return found!;
    }

    private sealed class ConsumeCounter : IConsumeObserver
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, int> counts = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, System.Collections.Immutable.ImmutableList<string>> faults = new();

        public Deliveries Of(Guid orderId) => new(counts.GetValueOrDefault(orderId), faults.GetValueOrDefault(orderId) ?? []);

        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Message is OrderPlaced placed)
            {
                counts.AddOrUpdate(placed.OrderId, 1, (_, n) => n + 1);
            }
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class
        {
            if (context.Message is OrderPlaced placed)
            {
                var fault = $"{exception.GetType().Name}: {exception.Message}";
                faults.AddOrUpdate(placed.OrderId, [fault], (_, list) => list.Add(fault));
            }
            return Task.CompletedTask;
        }
    }
}

internal sealed record Deliveries(int Consumed, IReadOnlyList<string> Faults)
{
    public override string ToString() => $"{Consumed} consumed, {Faults.Count} attempts threw" + (Faults.Count == 0 ? "" : ": " + string.Join("; ", Faults));
}
