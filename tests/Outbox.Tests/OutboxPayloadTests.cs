// A contract survives the outbox: what the writer stored is published as the registered type with the same content.
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Contracts;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

public sealed class OutboxPayloadTests
{
    [Fact]
    public async Task Relay_OrderPlacedContract_PublishedAsRegisteredTypeWithSameContent()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var publisher = new ScriptedPublisher();
        // A service's own AddOutbox call; the test host's second call only adds its test type to the same registry.
        await using var relay = await RelayHost.StartAsync(db, withBus: false,
            services: s => s.AddOutbox(types => types.Add<OrderPlaced>()).AddSingleton<IOutboxPublisher>(publisher));
        var placed = new OrderPlaced(Guid.NewGuid(), [new OrderLine("SKU-0001", 2), new OrderLine("SKU-0042", 1)]);
        var ct = TestContext.Current.CancellationToken;
        Guid id;
        await using (var connection = await db.DataSource.OpenConnectionAsync(ct))
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            id = await OutboxWriter.EnqueueAsync(connection, tx, placed, ct);
            await tx.CommitAsync(ct);
        }

        await Eventually.WaitAsync(() => Task.FromResult(publisher.Published.ContainsKey(id)), p => p, TimeSpan.FromSeconds(30), "published");

        var (message, type) = publisher.Published[id];
        Assert.Equal(typeof(OrderPlaced), type);
        var received = Assert.IsType<OrderPlaced>(message);
        Assert.Equal(placed.OrderId, received.OrderId);
        Assert.Equal(placed.Lines, received.Lines);
        Assert.Single(relay.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>());
    }
}
