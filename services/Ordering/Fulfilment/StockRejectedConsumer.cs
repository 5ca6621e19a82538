// Guarantee: StockRejected moves the order Placed → Rejected and schedules exactly one void of its authorization,
// in ONE transaction with the inbox row; redeliveries and re-sent events change nothing (inbox, conditional UPDATE,
// job unique key "void:{orderId}"). Doc: docs/failure-modes/background-jobs.md
using MassTransit;
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.Jobs;
using ReliableShop.Outbox;
using ReliableShop.Drills;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class StockRejectedConsumer(NpgsqlDataSource db, TimeProvider time, ConsumerStats stats) : IConsumer<StockRejected>
{
    public const string StatsName = "stockRejected";
    public const string InboxName = "ordering.stock-rejected";

    public async Task Consume(ConsumeContext<StockRejected> context)
    {
        stats.Received(StatsName, context);
        var messageId = context.MessageId ?? throw new InvalidOperationException("StockRejected without a MessageId cannot be deduplicated.");
        if (!await HandleAsync(messageId, context.Message, context.CancellationToken)) stats.Duplicate(StatsName);
    }

    /// <returns>False when the message was a duplicate delivery (nothing written).</returns>
    public async Task<bool> HandleAsync(Guid messageId, StockRejected message, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!await Inbox.TryAcceptAsync(connection, tx, InboxName, messageId, ct)) return false;
        var (moved, authorizationId) = await OrderTransitions.MoveAsync(
            connection, tx, message.OrderId, "Placed", "Rejected", message.Reason, time.GetUtcNow(), ct);
        if (moved && authorizationId is { } authorization)
        {
            await JobQueue.EnqueueAsync(connection, tx, VoidPaymentJob.Kind,
                new PaymentJobPayload(message.OrderId, authorization).ToJson(), uniqueKey: $"void:{message.OrderId}", ct: ct);
        }
        await tx.CommitAsync(ct);
        return true;
    }
}

public sealed class StockRejectedConsumerDefinition : ConsumerDefinition<StockRejectedConsumer>
{
    public StockRejectedConsumerDefinition() => EndpointName = "ordering-stock-rejected";

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<StockRejectedConsumer> consumerConfigurator, IRegistrationContext context) =>
        // In-memory retries ride out a brief database blip; after them the message goes to the _error queue.
        endpointConfigurator.UseMessageRetry(r => r.Intervals(100, 500, 1000, 2000, 5000));
}
