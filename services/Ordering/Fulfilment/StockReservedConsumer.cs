// Guarantee: StockReserved moves the order Placed → Reserved and schedules exactly one capture — inbox row, status
// move, history and job commit in ONE transaction. A redelivery (same MessageId) is absorbed by the inbox; a re-sent
// event (new MessageId) by the conditional UPDATE and the job's unique key "capture:{orderId}".
// Doc: docs/failure-modes/background-jobs.md
using MassTransit;
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.Jobs;
using ReliableShop.Outbox;
using ReliableShop.Drills;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class StockReservedConsumer(NpgsqlDataSource db, TimeProvider time, ConsumerStats stats) : IConsumer<StockReserved>
{
    public const string StatsName = "stockReserved";
    public const string InboxName = "ordering.stock-reserved";

    public async Task Consume(ConsumeContext<StockReserved> context)
    {
        stats.Received(StatsName, context);
        var messageId = context.MessageId ?? throw new InvalidOperationException("StockReserved without a MessageId cannot be deduplicated.");
        if (!await HandleAsync(messageId, context.Message, context.CancellationToken)) stats.Duplicate(StatsName);
    }

    /// <returns>False when the message was a duplicate delivery (nothing written).</returns>
    public async Task<bool> HandleAsync(Guid messageId, StockReserved message, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!await Inbox.TryAcceptAsync(connection, tx, InboxName, messageId, ct)) return false;
        var (moved, authorizationId) = await OrderTransitions.MoveAsync(
            connection, tx, message.OrderId, "Placed", "Reserved", "Stock reserved", time.GetUtcNow(), ct);
        if (moved && authorizationId is { } authorization)
        {
            await JobQueue.EnqueueAsync(connection, tx, CapturePaymentJob.Kind,
                new PaymentJobPayload(message.OrderId, authorization).ToJson(), uniqueKey: $"capture:{message.OrderId}", ct: ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }
}

public sealed class StockReservedConsumerDefinition : ConsumerDefinition<StockReservedConsumer>
{
    public StockReservedConsumerDefinition() => EndpointName = "ordering-stock-reserved";

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<StockReservedConsumer> consumerConfigurator, IRegistrationContext context) =>
        // In-memory retries ride out a brief database blip; after them the message goes to the _error queue.
        endpointConfigurator.UseMessageRetry(r => r.Intervals(100, 500, 1000, 2000, 5000));
}
