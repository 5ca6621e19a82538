// Guarantee (overload, failure-modes.md §4, the asynchronous half), against the real RabbitMQ broker and PostgreSQL:
// a backlog of OrderPlaced enters Inventory only as far as the consumer limits let it.
//   reproduce (prefetch 1000, no concurrency limit): the whole backlog leaves the broker at once, every delivery starts
//     a reservation, the pool is taken and a price read of order placement cannot get a connection;
//   contain (prefetch = concurrency = Reservations:ConcurrencyLimit): exactly that many run, the rest waits at the
//     broker, and the price read answers.
// The reservations are held on a row lock the test takes, so what the limits admit is a stable count, not a race with
// the consumer. Both halves then reserve every order exactly once. Doc: docs/failure-modes/overload.md
using System.Net.Http.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RabbitMQ.Client;
using ReliableShop.Contracts;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class OrderPlacedBacklogTests
{
    private const int Backlog = 200, PoolSize = 20, Limit = 4, NaivePrefetch = 1000;
    private const string Sku = "SKU-0050";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60); // generous: the whole project's tests run in parallel
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reproduce_PullsTheWholeBacklogIn_AndStarvesThePriceRead() =>
        await DrainBacklogAsync("reproduce", inProcess: Backlog, leftAtBroker: 0, priceReadAnswers: false);

    [Fact]
    public async Task Contain_RunsOnlyTheLimit_LeavesTheRestAtTheBroker_AndThePriceReadAnswers() =>
        await DrainBacklogAsync("contain", inProcess: Limit, leftAtBroker: Backlog - Limit, priceReadAnswers: true);

    /// <summary>
    /// The operator's remedy mid-incident: reproduce has every delivery of the backlog running (held on the lock), and
    /// the mode is switched to contain. The old endpoint stops once its running reservations finish (the lock goes),
    /// the new one comes up with the limit, and nothing is lost, stuck unacknowledged or reserved twice.
    /// </summary>
    [Fact]
    public async Task SwitchToContainWhileTheBacklogRuns_TakesEffectAndLosesNothing()
    {
        await using var host = await BacklogHost.StartAsync(ct);
        await (await SwitchToContainWithTheBacklogHeldAsync(host)).DisposeAsync(); // the lock goes: the reservations finish, the stop completes

        await Eventually.WaitAsync(host.StatsAsync, r => r.Prefetch == Limit, Timeout, "contain's endpoint connected");
        await host.AssertEveryOrderReservedOnceAsync();
        Assert.Equal(0u, await host.Broker.ReadyAsync(ct));
    }

    /// <summary>
    /// Shutdown in the middle of that switch, before the lock goes: the old endpoint's stop waits for reservations that
    /// cannot finish, and the host must stop anyway once its shutdown time is up (it used to wait for the lock forever).
    /// The held reservations are cancelled and roll back; none was acknowledged, so the broker delivers them again when
    /// the connection closes (the end of the process; this test's process lives on, so it checks the database side).
    /// </summary>
    [Fact]
    public async Task ShutdownWhileASwitchWaitsOnHeldReservations_StopsWhenTheShutdownTimeIsUp_NothingReserved()
    {
        await using var host = await BacklogHost.StartAsync(ct, ("shutdownTimeoutSeconds", "5"));
        await using (await SwitchToContainWithTheBacklogHeldAsync(host))
        {
            var shutdown = host.App.DisposeAsync().AsTask();
            Assert.True(await Task.WhenAny(shutdown, Task.Delay(Timeout, ct)) == shutdown,
                $"the host did not stop within {Timeout.TotalSeconds:0} s (shutdown time 5 s) while its reservations were held");
            await shutdown;
            await Eventually.WaitAsync(host.StatsAsync, r => r.InFlight == 0, Timeout, "every held reservation ended");
        }

        Assert.Equal(0L, await host.App.ScalarAsync<long>("SELECT count(*) FROM reservations"));
        Assert.Equal(1000L, await host.App.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = $1", Sku));
    }

    /// <summary>The whole backlog running in reproduce, held on the row lock (returned: disposing it releases them),
    /// then the switch to contain, whose stop of the reproduce endpoint waits for them.</summary>
    private async Task<IAsyncDisposable> SwitchToContainWithTheBacklogHeldAsync(BacklogHost host)
    {
        await host.SetModeAsync("reproduce");
        await host.SendBacklogWhilePausedAsync();
        var held = await LockRowAsync(host.App.ConnectionString, Sku);
        try
        {
            await host.ResumeAsync();
            await Eventually.WaitAsync(host.StatsAsync, r => r.InFlight == Backlog, Timeout, "the whole backlog running");
            (await host.Admin.PutAsJsonAsync("/admin/failure-modes/overload", new { state = "contain" }, ct)).EnsureSuccessStatusCode();
            await Eventually.WaitAsync(host.StatsAsync, r => r.Prefetch is null, Timeout, "the reproduce endpoint stopping");
            return held;
        }
        catch
        {
            await held.DisposeAsync();
            throw;
        }
    }

    private async Task DrainBacklogAsync(string state, int inProcess, int leftAtBroker, bool priceReadAnswers)
    {
        await using var host = await BacklogHost.StartAsync(ct);
        Assert.True(await PriceReadAnswersAsync(host.App)); // warm: the read below must not pay for a cold start
        await host.SetModeAsync(state);
        await host.SendBacklogWhilePausedAsync();

        await using (await LockRowAsync(host.App.ConnectionString, Sku))
        {
            await host.ResumeAsync();
            var running = await Eventually.WaitAsync(host.StatsAsync, r => r.InFlight >= inProcess, Timeout, $"{inProcess} reservations started");
            Assert.Equal(inProcess, running.InFlight);                           // never more than the limits admit
            Assert.Equal((uint)leftAtBroker, await host.Broker.ReadyAsync(ct));  // the rest is where it is durable and shared
            Assert.Equal(priceReadAnswers, await PriceReadAnswersAsync(host.App));
        } // rollback: the lock goes, the reservations run

        await host.AssertEveryOrderReservedOnceAsync();
        Assert.Equal(inProcess, (await host.StatsAsync()).PeakInFlight);
    }

    /// <summary>A price read (what order placement asks): true when answered within 5 s, false when it could not be — in
    /// reproduce every pooled connection waits on the test's row lock, and Npgsql's own pool wait is 15 s, so only a
    /// starved pool gives false. Any other answer fails the test.</summary>
    private static async Task<bool> PriceReadAnswersAsync(InventoryApp app)
    {
        using var client = app.CreateClient();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using var response = await client.GetAsync("/api/catalog/prices?skus=SKU-0001", deadline.Token);
            response.EnsureSuccessStatusCode();
            return true;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Holds the SKU's row (SELECT … FOR UPDATE) on a connection of its own until disposed (rollback).</summary>
    private async Task<IAsyncDisposable> LockRowAsync(string connectionString, string sku)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(ct);
        var transaction = await connection.BeginTransactionAsync(ct); // ended with the connection
        // This session is idle in its transaction on purpose: the database's 10 s backstop must not end it early.
        await using (var noTimeout = new NpgsqlCommand("SET LOCAL idle_in_transaction_session_timeout = 0", connection, transaction))
        {
            await noTimeout.ExecuteNonQueryAsync(ct);
        }
        await using var command = new NpgsqlCommand("SELECT 1 FROM catalog_items WHERE sku = $1 FOR UPDATE", connection, transaction);
        command.Parameters.Add(new() { Value = sku });
        await command.ExecuteScalarAsync(ct);
        return connection; // closing it ends the transaction (rollback) and the lock
    }

    /// <summary>
    /// An Inventory host on the real broker with a queue of its own (Reservations:QueueName), a pool of PoolSize and the
    /// consumer limit Limit; disposing stops the host first (a running consumer would declare the queue again), then
    /// deletes the queue.
    /// </summary>
    private sealed class BacklogHost(InventoryApp app, HttpClient admin, BrokerQueue broker, string queue, CancellationToken ct)
        : IAsyncDisposable
    {
        public InventoryApp App => app;
        public HttpClient Admin => admin;
        public BrokerQueue Broker => broker;

        public static async Task<BacklogHost> StartAsync(CancellationToken ct, params (string Key, string? Value)[] settings)
        {
            var queue = $"test-order-placed-{Guid.NewGuid():N}";
            var broker = await BrokerQueue.OpenAsync(await Servers.RabbitMqAsync(), queue, ct);
            var app = await InventoryApp.CreateOnBrokerAsync(PoolSize, [
                ("Reservations:QueueName", queue), ("Reservations:ConcurrencyLimit", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                .. settings]);
            return new BacklogHost(app, app.CreateAdminClient(), broker, queue, ct);
        }

        private readonly Reservations.OrderPlacedIntake intake = app.Services.GetRequiredService<Reservations.OrderPlacedIntake>();

        /// <summary>The "reservations" stats, read in-process (also once the host has stopped): /admin/stats also reads
        /// the outbox backlog from PostgreSQL, and in reproduce that read waits for a pooled connection like everything
        /// else.</summary>
        public Task<Reservations.ReservationsStats> StatsAsync() => Task.FromResult(intake.Snapshot());

        public async Task SetModeAsync(string state)
        {
            (await admin.PutAsJsonAsync("/admin/failure-modes/overload", new { state }, ct)).EnsureSuccessStatusCode();
            var prefetch = state == "reproduce" ? NaivePrefetch : Limit;
            await Eventually.WaitAsync(StatsAsync, r => r.Prefetch == prefetch, Timeout, $"consumer reconnected with prefetch {prefetch}");
        }

        /// <summary>A backlog at the broker: consumption paused, the orders sent straight to this host's queue.</summary>
        public async Task SendBacklogWhilePausedAsync()
        {
            (await admin.PostAsync("/admin/reservations/pause", null, ct)).EnsureSuccessStatusCode();
            var endpoint = await app.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"queue:{queue}"));
            await endpoint.SendBatch(Enumerable.Range(0, Backlog).Select(_ => new OrderPlaced(Guid.NewGuid(), [new OrderLine(Sku, 1)])), ct);
            await Eventually.WaitAsync(() => broker.ReadyAsync(ct), n => n == Backlog, Timeout, "backlog at the broker");
        }

        public async Task ResumeAsync() => (await admin.PostAsync("/admin/reservations/resume", null, ct)).EnsureSuccessStatusCode();

        public async Task AssertEveryOrderReservedOnceAsync()
        {
            await Eventually.WaitAsync(() => app.ScalarAsync<long>("SELECT count(*) FROM reservation_outcomes"), n => n == Backlog,
                Timeout, "every order of the backlog reserved");
            Assert.Equal(Backlog, await app.ScalarAsync<long>("SELECT count(*) FROM reservations WHERE sku = $1", Sku));
            Assert.Equal(1000L - Backlog, await app.ScalarAsync<long>("SELECT available FROM catalog_items WHERE sku = $1", Sku));
        }

        public async ValueTask DisposeAsync()
        {
            admin.Dispose();
            await app.DisposeAsync();
            await broker.DeleteAsync(CancellationToken.None);
            await broker.DisposeAsync();
        }
    }

    /// <summary>The broker's view of the queue: messages ready (not delivered to any consumer).</summary>
    private sealed class BrokerQueue(IConnection connection, IChannel channel, string queue) : IAsyncDisposable
    {
        public static async Task<BrokerQueue> OpenAsync(string amqp, string queue, CancellationToken ct)
        {
            var connection = await new ConnectionFactory { Uri = new Uri(amqp) }.CreateConnectionAsync(ct);
            return new BrokerQueue(connection, await connection.CreateChannelAsync(cancellationToken: ct), queue);
        }

        public async Task<uint> ReadyAsync(CancellationToken ct) => (await channel.QueueDeclarePassiveAsync(queue, ct)).MessageCount;

        public Task DeleteAsync(CancellationToken ct) => channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: ct);

        public async ValueTask DisposeAsync()
        {
            await channel.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
