// B3/B4: the outbox relay (services/Outbox: the real claim SQL, MassTransit publish with publisher confirms, fenced
// mark) — B3 drains N committed rows; reference = min(pgbench of the claim(100) + mark SQL × 100, raw RabbitMQ.Client
// publishing the same bytes with confirms, 100 outstanding). B4 commits one row at a time (OutboxWriter, open loop)
// and times commit → delivery to a queue bound to the event's exchange (the broker's ack comes before that delivery).
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using ReliableShop.Contracts;
using ReliableShop.Outbox;

namespace ReliableShop.Benchmarks;

internal sealed class OutboxBench(BenchEnvironment env)
{
    private const int Batch = 100;
    private const string EventExchange = "ReliableShop.Contracts:OrderPlaced"; // MassTransit's exchange for the type
    private static readonly string MessageType = typeof(OrderPlaced).FullName!;
    private static readonly string Payload = JsonSerializer.Serialize(
        new OrderPlaced(Guid.Empty, [new OrderLine("SKU-0001", 1), new OrderLine("SKU-0002", 2)]), JsonSerializerOptions.Web);

    // OutboxStore's claim and mark, the marks of one claim as one statement (the relay sends one per row).
    private const string Script = """
        \set t random(1, 1000000000000)
        WITH claimed AS (
          UPDATE outbox_messages
          SET lock_token = lpad(to_hex(:t::bigint), 32, '0')::uuid, locked_until = now() + make_interval(secs => 30),
              next_attempt_at = now() + make_interval(secs => 30)
          WHERE id IN (SELECT id FROM outbox_messages WHERE status = 'pending' AND next_attempt_at <= now()
                       ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED)
          RETURNING id, message_type, payload::text, attempts, created_at)
        SELECT coalesce(array_agg(id), '{}')::text AS ids FROM claimed \gset
        UPDATE outbox_messages
        SET status = 'published', published_at = now(), lock_token = NULL, locked_until = NULL, last_error = NULL
        WHERE id = ANY(:ids::uuid[]) AND lock_token = lpad(to_hex(:t::bigint), 32, '0')::uuid;
        """;

    public async Task<BenchRow[]> RunAsync()
    {
        var db = await env.FreshDatabaseAsync("outbox");
        await BenchEnvironment.ExecuteAsync(db, OutboxSchema.Sql);
        var rows = env.Settings.Scaled(5_000);
        using var host = BuildHost(db);
        await host.StartAsync();
        try
        {
            await DrainAsync(db, Math.Max(200, rows / 5)); // warm-up; also makes MassTransit declare the event exchange
            var ours = new List<double>();
            var database = new List<double>();
            var broker = new List<double>();
            for (var run = 0; run < env.Settings.Runs; run++)
            {
                ours.Add(await DrainAsync(db, rows));
                database.Add(await PgbenchAsync(db, rows));
                broker.Add(await RawPublishAsync(rows));
            }
            var (db3, broker3) = (BenchSettings.Median(database), BenchSettings.Median(broker));
            var latency = await LatencyAsync(db);
            var dead = await BenchEnvironment.ScalarAsync<long>(db, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'outbox_messages'");
            return
            [
                new("B3", "outbox", "Outbox relay throughput", BenchSettings.Median(ours), "msg/s", Math.Min(db3, broker3),
                    "min(pgbench claim+mark × 100, raw publish+confirm)", 0.5, Better.Higher, "≥ 0.5 ×",
                    $"pgbench {db3:0} msg/s, raw RabbitMQ.Client {broker3:0} msg/s (100 outstanding confirms); relay BatchSize {Batch}; dead tuples {dead}"),
                new("B4", "outbox", "Outbox latency at idle, commit → broker, p50", latency.P50, "ms", null, "—", 20, Better.Lower,
                    "p50 ≤ 20 ms", $"{latency.Count} events at 10/s, open loop"),
                new("B4", "outbox", "Outbox latency at idle, commit → broker, p99", latency.P99, "ms", null, "—", 200, Better.Lower,
                    "p99 ≤ 200 ms", "delivery to a bound queue, so ≥ the broker's ack"),
            ];
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task<double> DrainAsync(string db, int n)
    {
        await BenchEnvironment.ExecuteAsync(db, "TRUNCATE outbox_messages");
        await InsertAsync(db, n, notify: false);
        var started = Stopwatch.GetTimestamp();
        await BenchEnvironment.ExecuteAsync(db, $"NOTIFY {OutboxWriter.NotifyChannel}");
        var timeout = Stopwatch.StartNew();
        while (await BenchEnvironment.ScalarAsync<long>(db, "SELECT count(*) FROM outbox_messages WHERE status <> 'published'") > 0)
        {
            if (timeout.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException($"outbox: {n} rows not all published after 3 min");
            await Task.Delay(10);
        }
        return n / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static Task InsertAsync(string db, int n, bool notify) => BenchEnvironment.ExecuteAsync(db, $"""
        INSERT INTO outbox_messages (id, message_type, payload, created_at, next_attempt_at)
        SELECT gen_random_uuid(), '{MessageType}', '{Payload}'::jsonb, now() - interval '1 minute' + i * interval '1 microsecond',
               now() - interval '1 minute'
        FROM generate_series(1, {n}) AS i; ANALYZE outbox_messages; {(notify ? $"NOTIFY {OutboxWriter.NotifyChannel}" : "")}
        """);

    private async Task<double> PgbenchAsync(string db, int n)
    {
        var perClient = Math.Max(1, n / Batch);
        await BenchEnvironment.ExecuteAsync(db, "TRUNCATE outbox_messages");
        await InsertAsync(db, perClient * Batch, notify: false);
        return await Pgbench.RunAsync(env, db, Script, clients: 1, perClient) * Batch; // one relay = one connection
    }

    private async Task<double> RawPublishAsync(int n)
    {
        var factory = new ConnectionFactory { Uri = env.RabbitMq };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.ExchangeDeclareAsync("bench-raw", ExchangeType.Fanout, durable: true, autoDelete: false);
        var body = Encoding.UTF8.GetBytes(Payload);
        var properties = new BasicProperties { Persistent = true, ContentType = "application/json" };
        var started = Stopwatch.GetTimestamp();
        for (var sent = 0; sent < n; sent += Batch)
        {
            var confirms = new List<Task>(Batch);
            for (var i = 0; i < Batch && sent + i < n; i++)
            {
                properties.MessageId = Guid.NewGuid().ToString();
                confirms.Add(channel.BasicPublishAsync("bench-raw", "", false, properties, body).AsTask());
            }
            await Task.WhenAll(confirms); // each completes on the broker's confirm
        }
        return n / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private async Task<(double P50, double P99, long Count)> LatencyAsync(string db)
    {
        var committed = new ConcurrentDictionary<Guid, long>();
        var histogram = new LongConcurrentHistogram(1, 60_000_000, 3);
        var factory = new ConnectionFactory { Uri = env.RabbitMq };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
        await channel.QueueBindAsync(queue.QueueName, EventExchange, "");
        var received = 0;
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            var now = Stopwatch.GetTimestamp();
            if (MessageId(delivery) is { } id && committed.TryGetValue(id, out var at))
            {
                histogram.RecordValue(Math.Max(1, (now - at) * 1_000_000 / Stopwatch.Frequency)); // µs
                Interlocked.Increment(ref received);
            }
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer);

        await using var dataSource = NpgsqlDataSource.Create(db);
        var count = env.Settings.Quick ? 20 : 100;
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var intended = start + i * Stopwatch.Frequency / 10; // 10 events/s: idle
            var wait = TimeSpan.FromTicks((intended - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            await using var conn = await dataSource.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            var id = await OutboxWriter.EnqueueAsync(conn, tx, new OrderPlaced(Guid.NewGuid(), [new OrderLine("SKU-0001", 1)]), CancellationToken.None);
            await tx.CommitAsync();
            committed[id] = Stopwatch.GetTimestamp();
        }
        var timeout = Stopwatch.StartNew();
        while (Volatile.Read(ref received) < count && timeout.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        return (histogram.GetValueAtPercentile(50) / 1000.0, histogram.GetValueAtPercentile(99) / 1000.0, histogram.TotalCount);
    }

    private static Guid? MessageId(BasicDeliverEventArgs delivery)
    {
        if (Guid.TryParse(delivery.BasicProperties.MessageId, out var id)) return id;
        using var json = JsonDocument.Parse(delivery.Body);
        return json.RootElement.TryGetProperty("messageId", out var value) && value.TryGetGuid(out id) ? id : null;
    }

    private IHost BuildHost(string db)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:messaging"] = env.RabbitMq.ToString(),
            ["Outbox:BatchSize"] = $"{Batch}",
        });
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(db));
        builder.AddMessaging(_ => { });
        builder.Services.AddOutbox(types => types.Add<OrderPlaced>());
        return builder.Build();
    }
}
