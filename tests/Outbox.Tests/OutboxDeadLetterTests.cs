// Poison rows: a publish that always fails backs off exponentially, ends dead after MaxAttempts with the error kept,
// and ReplayDeadAsync brings it back; an unregistered type ends dead too, naming the type.
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

public sealed class OutboxDeadLetterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Relay_PublishAlwaysFails_BacksOffThenDeadThenReplayPublishes()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var publisher = new ScriptedPublisher { Fail = true };
        await using var relay = await RelayHost.StartAsync(db, withBus: false,
            services: s => s.AddSingleton<IOutboxPublisher>(publisher),
            options: o => (o.MaxAttempts, o.RetryBaseDelayMs, o.RetryMaxDelayMs, o.PollIntervalMs) = (4, 100, 400, 20));
        var id = (await db.EnqueueAsync()).Single();

        await Eventually.WaitAsync(() => db.RowAsync(id), r => r.Status == "dead", Timeout, "row dead");

        var row = await db.RowAsync(id);
        Assert.Equal(4, row.Attempts);
        Assert.Contains("broker says no", row.LastError);
        var calls = publisher.Calls[id].ToArray();
        Assert.Equal(4, calls.Length);
        for (var retry = 1; retry < calls.Length; retry++)
        {
            // Backoff.Next(retry) ≥ half of 100 ms × 2^(retry-1): 50, 100, 200 ms (minus 10 ms of clock granularity)
            var gap = Stopwatch.GetElapsedTime(calls[retry - 1], calls[retry]);
            Assert.True(gap.TotalMilliseconds >= 50 * Math.Pow(2, retry - 1) - 10, $"retry {retry} came after {gap.TotalMilliseconds} ms");
        }
        var admin = relay.Services.GetRequiredService<OutboxAdmin>();
        Assert.Equal(new OutboxStats(0, 1, 0), await admin.GetStatsAsync(TestContext.Current.CancellationToken));

        publisher.Fail = false;
        Assert.Equal(1, await admin.ReplayDeadAsync(id, TestContext.Current.CancellationToken));
        await Eventually.WaitAsync(() => db.RowAsync(id), r => r.Status == "published", Timeout, "replayed row published");
        Assert.Equal(0, await admin.ReplayDeadAsync(null, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Relay_UnregisteredMessageType_EndsDeadNamingTheType()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var publisher = new ScriptedPublisher();
        await using var relay = await RelayHost.StartAsync(db, withBus: false,
            services: s => s.AddSingleton<IOutboxPublisher>(publisher),
            options: o => (o.MaxAttempts, o.RetryBaseDelayMs, o.RetryMaxDelayMs, o.PollIntervalMs) = (2, 10, 20, 20));
        var id = Guid.NewGuid();
        await db.ExecuteAsync("INSERT INTO outbox_messages (id, message_type, payload) VALUES ($1, 'Gone.Type', '{}')", id);

        var row = await Eventually.WaitAsync(() => db.RowAsync(id), r => r.Status == "dead", Timeout, "row dead");

        Assert.Contains("'Gone.Type' is not registered", row.LastError);
        Assert.Empty(publisher.Calls);
    }
}
