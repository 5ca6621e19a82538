// outbox drill, library level: a relay that "crashes" after the broker confirmed a publish but before it marked the
// row (IOutboxFaults) loses nothing — the lease expires, the row is published again under the SAME MessageId (so a
// consumer's inbox absorbs it), and every row ends published. Doc: docs/failure-modes/outbox.md
using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

public sealed class OutboxCrashDrillTests
{
    [Fact]
    public async Task Relay_CrashAfterConfirmedPublish_RowRepublishedWithSameMessageIdAfterLease()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var publisher = new ScriptedPublisher();
        var faults = new CrashFirstPublishOfEveryFifth();
        await using var relay = await RelayHost.StartAsync(db, withBus: false,
            services: s => s.AddSingleton<IOutboxPublisher>(publisher).AddSingleton<IOutboxFaults>(faults),
            options: o => (o.LeaseSeconds, o.PublishTimeoutMs, o.PollIntervalMs) = (1, 500, 50));
        var ids = await db.EnqueueAsync(100);

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 100, TimeSpan.FromSeconds(30), "every row published");

        Assert.Equal(20, faults.Crashed.Count); // ids spread evenly enough: every fifth enqueued row crashed once
        foreach (var id in ids)
        {
            // The crashed rows went out twice under the same MessageId (what the inbox deduplicates), the rest once.
            Assert.Equal(faults.Crashed.ContainsKey(id) ? 2 : 1, publisher.Calls[id].Count);
        }
        Assert.Equal(0L, await db.CountAsync("pending", ids));
    }

    private sealed class CrashFirstPublishOfEveryFifth : IOutboxFaults
    {
        private int seen;

        public ConcurrentDictionary<Guid, byte> Crashed { get; } = new();

        public bool CrashAfterPublish(Guid messageId)
        {
            if (Crashed.ContainsKey(messageId)) return false; // only the first publish of a row crashes
            return Interlocked.Increment(ref seen) % 5 == 0 && Crashed.TryAdd(messageId, 0);
        }
    }
}
