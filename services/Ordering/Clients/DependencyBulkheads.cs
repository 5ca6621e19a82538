// The bulkhead of each dependency client (one concurrency limiter per client name), owned here rather than inside the
// pipeline so that the pipeline enforces it and the order placement can ask, before it does any work, whether a call
// could start now. Doc: docs/failure-modes/overload.md
using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace ReliableShop.Ordering.Clients;

public sealed class DependencyBulkheads : IDisposable
{
    private readonly ConcurrentDictionary<string, (ConcurrencyLimiter Limiter, int QueueLimit)> bulkheads = new(StringComparer.Ordinal);

    /// <summary>The bulkhead of <paramref name="client"/>, created on first use from its options and kept.</summary>
    public ConcurrencyLimiter For(string client, ClientResilienceOptions options) => bulkheads.GetOrAdd(client, _ => (
        new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.BulkheadPermitLimit,
            QueueLimit = options.BulkheadQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }), options.BulkheadQueueLimit)).Limiter;

    /// <summary>True when a call through <paramref name="client"/> would be refused now: no free permit, queue full.</summary>
    public bool Full(string client) =>
        bulkheads.TryGetValue(client, out var bulkhead) && bulkhead.Limiter.GetStatistics() is { } now
        && now.CurrentAvailablePermits == 0 && now.CurrentQueuedCount >= bulkhead.QueueLimit;

    public void Dispose()
    {
        foreach (var (limiter, _) in bulkheads.Values) limiter.Dispose();
    }
}
