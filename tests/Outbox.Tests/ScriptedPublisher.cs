// A publisher seam for tests that need the broker to say no on demand; records when each message was attempted.
using System.Collections.Concurrent;
using System.Diagnostics;

namespace ReliableShop.Outbox.Tests;

internal sealed class ScriptedPublisher : IOutboxPublisher
{
    public volatile bool Fail;

    public ConcurrentDictionary<Guid, ConcurrentQueue<long>> Calls { get; } = new();

    public ConcurrentDictionary<Guid, (object Message, Type Type)> Published { get; } = new();

    public Task PublishAsync(Guid messageId, object message, Type messageType, CancellationToken ct)
    {
        Calls.GetOrAdd(messageId, _ => new()).Enqueue(Stopwatch.GetTimestamp());
        if (Fail) throw new InvalidOperationException("broker says no");
        Published[messageId] = (message, messageType);
        return Task.CompletedTask;
    }
}
