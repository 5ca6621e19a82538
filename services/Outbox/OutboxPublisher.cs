// The relay's only contact with the broker: publish one row as its registered type, with MessageId = row id, and
// complete only once the broker confirmed it (publisher confirms), so "published" in the table means "at the broker".
// Doc: docs/failure-modes/outbox.md
using MassTransit;

namespace ReliableShop.Outbox;

internal interface IOutboxPublisher
{
    Task PublishAsync(Guid messageId, object message, Type messageType, CancellationToken ct);
}

internal sealed class MassTransitOutboxPublisher(IBus bus) : IOutboxPublisher
{
    public Task PublishAsync(Guid messageId, object message, Type messageType, CancellationToken ct) =>
        bus.Publish(message, messageType, context => context.MessageId = messageId, ct);
}
