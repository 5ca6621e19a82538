// The relay through outages: while the broker or the database is unavailable rows stay pending (nothing lost, nothing
// falsely marked published) and the relay keeps retrying; after recovery everything is published.
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

[Collection(BrokerCollection.Name)]
public sealed class OutboxOutageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Relay_BrokerDown_RowsStayPendingThenAllPublishedAfterRestart()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var receipts = new Receipts();
        await using var relay = await RelayHost.StartAsync(db, receipts, durableQueue: true, options: o =>
        {
            (o.PublishTimeoutMs, o.LeaseSeconds, o.PollIntervalMs) = (1000, 5, 200);
            (o.RetryBaseDelayMs, o.RetryMaxDelayMs, o.MaxAttempts) = (100, 1000, 1000);
        });
        var warmUp = await db.EnqueueAsync();
        await Eventually.WaitAsync(() => Task.FromResult(receipts.ReceivedOf(warmUp)), n => n == 1, Timeout, "warm-up delivered");

        List<Guid> ids;
        try
        {
            await Servers.StopAsync(Server.RabbitMq);
            ids = await db.EnqueueAsync(20);
            const string tried = "SELECT coalesce(max(attempts), 0) FROM outbox_messages WHERE id = ANY($1)";
            await Eventually.WaitAsync(() => db.ScalarAsync<int>(tried, ids.ToArray()), n => n >= 1, TimeSpan.FromSeconds(10), "a failed attempt");
            Assert.Equal(20L, await db.CountAsync("pending", ids)); // nothing lost, nothing falsely marked published
        }
        finally
        {
            await Servers.StartAsync(Server.RabbitMq);
        }

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 20, TimeSpan.FromSeconds(60), "rows published after restart");
        await Eventually.WaitAsync(() => Task.FromResult(receipts.ReceivedOf(ids)), n => n == 20, Timeout, "rows delivered after restart");
    }

    [Fact]
    public async Task Relay_DatabaseUnavailable_KeepsRetryingAndPublishesAfterRecovery()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var publisher = new ScriptedPublisher();
        await using var relay = await RelayHost.StartAsync(db, withBus: false,
            services: s => s.AddSingleton<IOutboxPublisher>(publisher),
            options: o => (o.PollIntervalMs, o.RetryBaseDelayMs, o.RetryMaxDelayMs) = (50, 50, 500));
        var database = new NpgsqlConnectionStringBuilder(db.ConnectionString).Database!;
        // The application's own connection survives the outage: it commits a row the relay cannot see yet.
        await using var application = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Pooling = false }.ConnectionString);
        await application.OpenAsync(TestContext.Current.CancellationToken);
        const string failures = "Outbox relay batch failed";
        List<Guid> ids;
        try
        {
            // This test's own database only (the server is shared): refuse new connections, cut the relay's.
            await ServerCommandAsync($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS false");
            await ServerCommandAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> {application.ProcessID}");
            await Eventually.WaitAsync(() => Task.FromResult(relay.Log.Count(failures)), n => n >= 2, Timeout, "relay failing");
            ids = await EnqueueAsync(application);
            var seen = relay.Log.Count(failures);
            await Eventually.WaitAsync(() => Task.FromResult(relay.Log.Count(failures)), n => n >= seen + 2, Timeout, "relay still retrying");
        }
        finally
        {
            await ServerCommandAsync($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS true");
        }

        await Eventually.WaitAsync(() => db.CountAsync("published", ids), n => n == 1, Timeout, "row published after recovery");
        Assert.Single(publisher.Calls[ids[0]]);
    }

    private static async Task<List<Guid>> EnqueueAsync(NpgsqlConnection connection)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var tx = await connection.BeginTransactionAsync(ct);
        var id = await OutboxWriter.EnqueueAsync(connection, tx, new OutboxTestMessage(1, "during the outage"), ct);
        await tx.CommitAsync(ct);
        return [id];
    }

    private static async Task ServerCommandAsync(string sql)
    {
        var server = new NpgsqlConnectionStringBuilder(await Servers.PostgresAsync()) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }
}
