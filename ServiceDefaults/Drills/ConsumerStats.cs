// Deliveries per consumer, for the "consumers" section of GET /admin/stats and the OpenTelemetry counter
// reliableshop.consumer.deliveries: how many arrived, how many were redeliveries (the broker's redelivered
// flag or an in-process retry), and how many duplicates the inbox absorbed. Doc: docs/failure-modes/background-jobs.md
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MassTransit;

namespace ReliableShop.Drills;

public sealed record ConsumerCounts(long Received, long Redeliveries, long Duplicates);

/// <param name="consumers">Listed from the start (zeros), so the section's shape never depends on traffic.</param>
public sealed class ConsumerStats(IMeterFactory meterFactory, params string[] consumers) : IDrillStatsSource
{
    public const string MeterName = "ReliableShop.Consumers";

    private readonly ConcurrentDictionary<string, Counts> counts =
        new(consumers.Select(c => KeyValuePair.Create(c, new Counts())), StringComparer.Ordinal);
    private readonly Counter<long> deliveries = meterFactory.Create(MeterName).CreateCounter<long>(
        "reliableshop.consumer.deliveries", "{delivery}", "Deliveries per consumer, by kind: first, redelivery, duplicate.");

    public string Section => "consumers";

    /// <summary>Call first thing in Consume: one delivery, a redelivery when the broker or the retry filter says so.</summary>
    public void Received(string consumer, ConsumeContext context)
    {
        var delivered = For(consumer);
        Interlocked.Increment(ref delivered.Received);
        var redelivery = context.GetRetryAttempt() > 0 || context.ReceiveContext.Redelivered;
        if (redelivery) Interlocked.Increment(ref delivered.Redeliveries);
        deliveries.Add(1, new("consumer", consumer), new("kind", redelivery ? "redelivery" : "first"));
    }

    /// <summary>The delivery changed nothing: the inbox (or an idempotency check) had already absorbed it.</summary>
    public void Duplicate(string consumer)
    {
        Interlocked.Increment(ref For(consumer).Duplicates);
        deliveries.Add(1, new("consumer", consumer), new("kind", "duplicate"));
    }

    public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(new SortedDictionary<string, ConsumerCounts>(
        counts.ToDictionary(c => c.Key, c => new ConsumerCounts(
            Interlocked.Read(ref c.Value.Received), Interlocked.Read(ref c.Value.Redeliveries), Interlocked.Read(ref c.Value.Duplicates)))));

    public void Reset()
    {
        foreach (var consumer in counts.Values)
        {
            Interlocked.Exchange(ref consumer.Received, 0);
            Interlocked.Exchange(ref consumer.Redeliveries, 0);
            Interlocked.Exchange(ref consumer.Duplicates, 0);
        }
    }

    private Counts For(string consumer) => counts.GetOrAdd(consumer, _ => new Counts());

    private sealed class Counts
    {
        public long Received;
        public long Redeliveries;
        public long Duplicates;
    }
}
