// The consumers' error queues as an operator sees them: depth per _error queue (GET /admin/stats "errorQueues", gauge
// reliableshop.consumer.error_queue.depth) and replay (POST /admin/error-queues/{queue}/replay): each dead message is
// moved back to its input queue unchanged (same MessageId, so the inbox still deduplicates), after the cause is fixed.
// Doc: docs/failure-modes/background-jobs.md
using System.Diagnostics.Metrics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using ReliableShop.Drills;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class ErrorQueues : IDrillStatsSource
{
    /// <summary>Ordering's consumer queues; their dead letters are in "&lt;queue&gt;_error" (MassTransit's convention).</summary>
    public static readonly string[] Queues = ["ordering-stock-reserved", "ordering-stock-rejected"];
    private static readonly TimeSpan GaugeMaxAge = TimeSpan.FromSeconds(10);

    private readonly ConnectionFactory factory;
    private readonly TimeProvider time;
    private readonly Dictionary<string, long> lastDepth = Queues.ToDictionary(q => q, _ => 0L);
    private long lastRead;
    private int refreshing;

    public ErrorQueues(IConfiguration configuration, IMeterFactory meters, TimeProvider time)
    {
        this.time = time;
        factory = new ConnectionFactory
        {
            Uri = new Uri(configuration.GetConnectionString(MessagingExtensions.ConnectionName)!),
            RequestedConnectionTimeout = TimeSpan.FromSeconds(2), // a down broker must not stall /admin/stats
            ClientProvidedName = "reliableshop-error-queues",
        };
        var meter = meters.Create("ReliableShop.Consumers.ErrorQueues");
        // Scrapes read the last known depths; a refresh runs in the background at most every 10 s.
        meter.CreateObservableGauge("reliableshop.consumer.error_queue.depth", ObserveDepths, "{message}",
            "Messages waiting in a consumer's _error queue (poison or retries exhausted).");
    }

    public string Section => "errorQueues";

    // Never throws: /admin/stats must answer while the broker is down (outage drills read it then); -1 = unknown.
    public async Task<object> ReadAsync(CancellationToken ct)
    {
        try
        {
            return await DepthsAsync(ct);
        }
        catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException or IOException or TimeoutException
                                      or AlreadyClosedException)
        {
            return Queues.ToDictionary(q => q + "_error", _ => -1L, StringComparer.Ordinal);
        }
    }

    public async Task<Dictionary<string, long>> DepthsAsync(CancellationToken ct)
    {
        await using var connection = await factory.CreateConnectionAsync(ct);
        var depths = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var queue in Queues)
        {
            depths[queue + "_error"] = await DepthAsync(connection, queue + "_error", ct);
        }
        lock (lastDepth)
        {
            foreach (var queue in Queues) lastDepth[queue] = depths[queue + "_error"];
        }
        Interlocked.Exchange(ref lastRead, time.GetTimestamp());
        return depths;
    }

    /// <summary>Moves every message of <paramref name="queue"/>_error back to <paramref name="queue"/>; returns how many.</summary>
    public async Task<int> ReplayAsync(string queue, CancellationToken ct)
    {
        if (!Queues.Contains(queue, StringComparer.Ordinal)) throw new ArgumentException($"Unknown queue '{queue}'.", nameof(queue));
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        var replayed = 0;
        // Bounded by the depth at the start: a message that fails again comes back to _error and is not looped over.
        var depth = (await channel.QueueDeclarePassiveAsync(queue + "_error", ct)).MessageCount;
        for (var i = 0; i < depth; i++)
        {
            var message = await channel.BasicGetAsync(queue + "_error", autoAck: false, ct);
            if (message is null) break;
            var properties = new BasicProperties(message.BasicProperties);
            await channel.BasicPublishAsync(exchange: "", routingKey: queue, mandatory: false, basicProperties: properties, body: message.Body, cancellationToken: ct);
            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, ct); // after the publish: at-least-once, never lost
            replayed++;
        }
        return replayed;
    }

    private static async Task<long> DepthAsync(IConnection connection, string queue, CancellationToken ct)
    {
        // A channel per probe: a passive declare of a missing queue closes its channel.
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue, ct)).MessageCount;
        }
        catch (OperationInterruptedException)
        {
            return 0; // no _error queue yet: nothing ever failed there
        }
    }

    private IEnumerable<Measurement<long>> ObserveDepths()
    {
        if (time.GetElapsedTime(Interlocked.Read(ref lastRead)) > GaugeMaxAge && Interlocked.Exchange(ref refreshing, 1) == 0)
        {
            _ = Task.Run(async () =>
            {
                try { await DepthsAsync(CancellationToken.None); }
                catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException or IOException or TimeoutException
                                              or AlreadyClosedException) { }
                finally { Interlocked.Exchange(ref refreshing, 0); }
            });
        }
        lock (lastDepth)
        {
            return [.. lastDepth.Select(d => new Measurement<long>(d.Value, new KeyValuePair<string, object?>("queue", d.Key + "_error")))];
        }
    }
}
