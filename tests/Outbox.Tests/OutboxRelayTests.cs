// Outbox relay guarantees against real PostgreSQL and RabbitMQ: committed → published once with MessageId = row id;
// rolled back → never; several relays → no double publish; a crashed claimer's rows come back after the lease.
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

[Collection(BrokerCollection.Name)]
public sealed class OutboxRelayTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Enqueue_CommittedAndRolledBack_OnlyCommittedIsPublishedOnceWithRowId()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var receipts = new Receipts();
        await using var relay = await RelayHost.StartAsync(db, receipts);

        var phantom = (await db.EnqueueAsync(commit: false)).Single();
        var committed = (await db.EnqueueAsync()).Single();

        await Eventually.WaitAsync(() => Task.FromResult(receipts.DeliveriesOf(committed)), n => n >= 1, Timeout, "committed row delivered");
        await Eventually.WaitAsync(() => db.CountAsync("published", [committed]), n => n == 1, Timeout, "committed row marked published");
        Assert.Equal(1, receipts.DeliveriesOf(committed)); // the consumer saw MessageId == outbox row id, once
        Assert.Equal(0, receipts.DeliveriesOf(phantom));   // enqueued before the committed one, yet never published
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM outbox_messages WHERE id = $1", phantom));
    }

    [Fact]
    public async Task TwoRelays_SameDatabase500Rows_EachRowPublishedExactlyOnce()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var receipts = new Receipts();
        Action<OutboxOptions> small = o => o.BatchSize = 20; // small batches so both relays keep competing for rows
        // The consumer's host first, so its queue is bound before the second relay publishes anything; the rows are
        // enqueued once both relays run, so both compete for them.
        await using var first = await RelayHost.StartAsync(db, receipts, small);
        await using var second = await RelayHost.StartAsync(db, options: small);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.AddRange(await db.EnqueueAsync(100));

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 500, Timeout, "rows published");
        await Eventually.WaitAsync(() => Task.FromResult(receipts.ReceivedOf(ids)), n => n == 500, Timeout, "rows delivered");

        Assert.All(ids, id => Assert.Equal(1, receipts.DeliveriesOf(id)));
        Assert.Equal(500, receipts.Deliveries.Count);
    }

    [Fact]
    public async Task Relay_CrashedMidBatch_RowsRepublishedAfterLeaseAndInboxAbsorbsDuplicates()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var ids = await db.EnqueueAsync(10);
        // The crashed relay: claimed all 10 with a 3 s lease, published the first 3, died before marking any.
        var crashedToken = Guid.NewGuid();
        var claimed = await new OutboxStore(db.DataSource).ClaimAsync(crashedToken, 100, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.Equal(ids, claimed.Select(r => r.Id)); // claim order == enqueue (created_at) order
        var leaseEnd = await db.ScalarAsync<DateTime>("SELECT max(locked_until) FROM outbox_messages");

        var receipts = new Receipts { Inbox = db.DataSource };
        await using var relay = await RelayHost.StartAsync(db, receipts);
        var bus = relay.Services.GetRequiredService<IBus>();
        foreach (var id in ids.Take(3))
        {
            await bus.Publish(new OutboxTestMessage(0, "from the crashed relay"), c => c.MessageId = id, TestContext.Current.CancellationToken);
        }

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 10, Timeout, "rows published after the lease");
        await Eventually.WaitAsync(() => Task.FromResult(receipts.Accepted.Count + receipts.Duplicates.Count), n => n == 13, Timeout, "deliveries processed");

        var firstPublish = await db.ScalarAsync<DateTime>("SELECT min(published_at) FROM outbox_messages");
        Assert.True(firstPublish >= leaseEnd, $"relay published at {firstPublish:O}, before the lease ended at {leaseEnd:O}");
        Assert.All(ids, id => Assert.Equal(1, receipts.Accepted.GetValueOrDefault(id)));        // one effect per message
        Assert.Equal(ids.Take(3).Order(), receipts.Duplicates.Keys.Order());                      // duplicates only where the lease expired
        Assert.False(await new OutboxStore(db.DataSource).MarkPublishedAsync(ids[5], crashedToken, TestContext.Current.CancellationToken)); // fenced
    }

    [Fact]
    public async Task Notify_PollIntervalThirtySeconds_CommittedRowPublishedWithinTwoSeconds()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        await using var relay = await RelayHost.StartAsync(db, options: o => o.PollIntervalMs = 30_000);
        var warmUp = await db.EnqueueAsync();
        await Eventually.WaitAsync(() => db.CountAsync("published", warmUp), n => n == 1, Timeout, "warm-up row published");

        var ids = await db.EnqueueAsync();

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 1, TimeSpan.FromSeconds(2), "row published via NOTIFY");
    }

    [Fact]
    public async Task Notify_ListenerConnectionKilled_ReconnectsAndWakesAgain()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        await using var relay = await RelayHost.StartAsync(db, options: o => o.PollIntervalMs = 30_000);
        const string listenerPid = "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1";
        var first = await Eventually.WaitAsync(() => db.ScalarAsync<int>(listenerPid, OutboxListener.ApplicationName), pid => pid != 0, Timeout, "listener connected");

        await db.ScalarAsync<bool>("SELECT pg_terminate_backend($1)", first);
        await Eventually.WaitAsync(() => db.ScalarAsync<int>(listenerPid, OutboxListener.ApplicationName), pid => pid != 0 && pid != first, Timeout, "listener reconnected");
        var ids = await db.EnqueueAsync();

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 1, TimeSpan.FromSeconds(2), "row published via NOTIFY after reconnect");
    }
}

[CollectionDefinition(Name)]
public sealed class BrokerCollection
{
    // Tests that use RabbitMQ run one after another: the outage test stops the broker for everyone in this process.
    public const string Name = "broker";
}
