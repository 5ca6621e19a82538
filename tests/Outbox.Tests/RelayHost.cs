// A generic Host running the real relay (AddOutbox) over MassTransit/RabbitMQ, optionally with a consumer on a queue
// unique to the test, so parallel tests never see each other's messages.
using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

public sealed class Receipts
{
    public ConcurrentDictionary<Guid, int> Deliveries { get; } = new();

    public ConcurrentDictionary<Guid, int> Accepted { get; } = new();

    public ConcurrentDictionary<Guid, int> Duplicates { get; } = new();

    /// <summary>When set, the consumer records each delivery in this database's inbox and counts accepted/duplicate.</summary>
    public NpgsqlDataSource? Inbox { get; init; }

    public int DeliveriesOf(Guid id) => Deliveries.GetValueOrDefault(id);

    public int ReceivedOf(IEnumerable<Guid> ids) => ids.Count(Deliveries.ContainsKey);
}

public sealed class RecordingConsumer(Receipts receipts) : IConsumer<OutboxTestMessage>
{
    public async Task Consume(ConsumeContext<OutboxTestMessage> context)
    {
        var id = context.MessageId ?? throw new InvalidOperationException("no MessageId");
        receipts.Deliveries.AddOrUpdate(id, 1, (_, n) => n + 1);
        if (receipts.Inbox is not { } inbox) return;
        await using var connection = await inbox.OpenConnectionAsync(context.CancellationToken);
        await using var tx = await connection.BeginTransactionAsync(context.CancellationToken);
        var accepted = await Inbox.TryAcceptAsync(connection, tx, "recording-consumer", id, context.CancellationToken);
        (accepted ? receipts.Accepted : receipts.Duplicates).AddOrUpdate(id, 1, (_, n) => n + 1);
        await tx.CommitAsync(context.CancellationToken);
    }
}

internal sealed class RelayHost(IHost host, TestLog log) : IAsyncDisposable
{
    public IServiceProvider Services => host.Services;

    public TestLog Log => log;

    /// <param name="receipts">Consumer state; null = this host only relays (no queue).</param>
    /// <param name="durableQueue">A durable queue survives a broker restart (outage tests); otherwise a temporary one.</param>
    /// <param name="withBus">False: no MassTransit at all (the test registers its own IOutboxPublisher).</param>
    public static async Task<RelayHost> StartAsync(
        OutboxDatabase database,
        Receipts? receipts = null,
        Action<OutboxOptions>? options = null,
        Action<IServiceCollection>? services = null,
        bool durableQueue = false,
        bool withBus = true,
        bool withRelay = true)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var log = new TestLog();
        builder.Logging.AddProvider(log);
        builder.Services.AddSingleton(database.DataSource);
        services?.Invoke(builder.Services);
        // The bus first: hosted services start in registration order, and with WaitUntilStarted the consumer's queue
        // is bound before the relay publishes its first row (RabbitMQ drops, and still confirms, unroutable messages).
        if (withBus) await AddBusAsync(builder.Services, receipts, durableQueue);
        var beforeOutbox = builder.Services.Count;
        builder.Services.AddOutbox(types => types.Add<OutboxTestMessage>());
        builder.Services.Configure<OutboxOptions>(o => options?.Invoke(o));
        if (!withRelay)
        {
            var relayServices = builder.Services.Skip(beforeOutbox).Where(d => d.ServiceType == typeof(IHostedService)).ToList();
            foreach (var descriptor in relayServices) builder.Services.Remove(descriptor);
        }
        var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        return new RelayHost(host, log);
    }

    private static async Task AddBusAsync(IServiceCollection services, Receipts? receipts, bool durableQueue)
    {
        var broker = new Uri(await Servers.RabbitMqAsync());
        if (receipts is not null) services.AddSingleton(receipts);
        services.AddMassTransit(bus =>
        {
            if (receipts is not null) bus.AddConsumer<RecordingConsumer>();
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(broker, host => host.PublisherConfirmation = true);
                if (receipts is null) return;
                Action<IRabbitMqReceiveEndpointConfigurator> consumer = e => e.ConfigureConsumer<RecordingConsumer>(context);
                if (durableQueue)
                {
                    // Durable, so it survives the broker restart; the broker deletes it 2 min after its last use.
                    rabbit.ReceiveEndpoint($"outbox-tests-{Guid.NewGuid():N}", e =>
                    {
                        e.SetQueueArgument("x-expires", 120_000);
                        consumer(e);
                    });
                }
                else
                {
                    rabbit.ReceiveEndpoint(new TemporaryEndpointDefinition(), consumer);
                }
            });
        });
        services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StopTimeout = TimeSpan.FromSeconds(5);
        });
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await host.StopAsync(timeout.Token);
        host.Dispose();
    }
}
