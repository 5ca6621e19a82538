// Guarantee (off/contain): StockReserved moves the order Placed → Reserved, sends exactly one order confirmation and
// schedules exactly one capture — inbox row, status move, history, confirmation and job commit in ONE transaction. A
// redelivery (same MessageId) is absorbed by the inbox; a re-sent event (new MessageId) by the conditional UPDATE and
// the job's unique key "capture:{orderId}". A malformed message goes to the _error queue at once (no retry can fix it).
// The background-jobs drill's NAIVE path sits beside it (ConsumeNaivelyAsync). Doc: docs/failure-modes/background-jobs.md
using MassTransit;
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.Jobs;
using ReliableShop.Outbox;
using ReliableShop.Drills;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class StockReservedConsumer(NpgsqlDataSource db, TimeProvider time, ConsumerStats stats, BackgroundJobsFaults faults)
    : IConsumer<StockReserved>
{
    public const string StatsName = "stockReserved";
    public const string InboxName = "ordering.stock-reserved";
    /// <summary>Naive immediate retries per delivery (a stand-in for "retry until it works"; MassTransit's retries come on top).</summary>
    public const int NaiveImmediateRetries = 25;

    public async Task Consume(ConsumeContext<StockReserved> context)
    {
        stats.Received(StatsName, context);
        var messageId = context.MessageId ?? throw new InvalidOperationException("StockReserved without a MessageId cannot be deduplicated.");
        if (faults.Naive)
        {
            await ConsumeNaivelyAsync(messageId, context.Message, context.CancellationToken);
            return;
        }
        // CONTAIN / production: validate first — a malformed message is non-retryable (the definition ignores it in
        // its retry policy), so it lands in ordering-stock-reserved_error after ONE attempt, visible and replayable.
        if (context.Message.OrderId == Guid.Empty)
        {
            faults.PoisonAttempt();
            throw new MalformedMessageException($"StockReserved {messageId} has no order id.");
        }
        if (!await HandleAsync(messageId, context.Message, context.CancellationToken)) stats.Duplicate(StatsName);
        if (faults.InjectCrash())
        {
            // Committed, but the ack is never sent: the message is delivered again and the inbox absorbs it.
            throw new SimulatedConsumerCrashException($"Simulated crash after committing StockReserved {messageId}, before the ack");
        }
    }

    // NAIVE (background-jobs reproduce): the side effect is sent first, in its own commit, outside the inbox — then the
    // consumer may crash before it records anything. Every retry sends the confirmation again (duplicate e-mails).
    // Failures are retried immediately, with no backoff and no distinction between transient and hopeless: a
    // malformed message is retried as eagerly as a deadlock, and then MassTransit's own retries start over.
    private async Task ConsumeNaivelyAsync(Guid messageId, StockReserved message, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (message.OrderId == Guid.Empty)
                {
                    faults.PoisonAttempt();
                    throw new MalformedMessageException($"StockReserved {messageId} has no order id.");
                }
                await using (var connection = await db.OpenConnectionAsync(ct))
                {
                    await OrderConfirmations.SendAsync(connection, null, message.OrderId, messageId, ct); // the "e-mail" is out
                    faults.ConfirmationSent();
                }
                if (faults.InjectCrash())
                {
                    throw new SimulatedConsumerCrashException($"Simulated crash after the confirmation for {message.OrderId}, before the ack");
                }
                if (!await HandleAsync(messageId, message, ct, sendConfirmation: false)) stats.Duplicate(StatsName);
                return;
            }
            catch (Exception) when (attempt < NaiveImmediateRetries && !ct.IsCancellationRequested)
            {
                await Task.Yield(); // immediately again
            }
        }
    }

    /// <returns>False when the message was a duplicate delivery (nothing written).</returns>
    public async Task<bool> HandleAsync(Guid messageId, StockReserved message, CancellationToken ct, bool sendConfirmation = true)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!await Inbox.TryAcceptAsync(connection, tx, InboxName, messageId, ct)) return false;
        var (moved, authorizationId) = await OrderTransitions.MoveAsync(
            connection, tx, message.OrderId, "Placed", "Reserved", "Stock reserved", time.GetUtcNow(), ct);
        if (moved && authorizationId is { } authorization)
        {
            if (sendConfirmation)
            {
                // Same transaction as the inbox row: sent exactly once, or (rolled back) not at all and retried.
                await OrderConfirmations.SendAsync(connection, tx, message.OrderId, messageId, ct);
            }
            await JobQueue.EnqueueAsync(connection, tx, CapturePaymentJob.Kind,
                new PaymentJobPayload(message.OrderId, authorization).ToJson(), uniqueKey: $"capture:{message.OrderId}", ct: ct);
        }
        await tx.CommitAsync(ct);
        if (moved && sendConfirmation) faults.ConfirmationSent();
        return true;
    }
}

public sealed class StockReservedConsumerDefinition : ConsumerDefinition<StockReservedConsumer>
{
    public StockReservedConsumerDefinition() => EndpointName = "ordering-stock-reserved";

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<StockReservedConsumer> consumerConfigurator, IRegistrationContext context) =>
        // Bounded retries with backoff ride out a brief database blip (6 attempts at most); after them the message goes
        // to the _error queue. A malformed message is not retried at all: straight to the _error queue.
        endpointConfigurator.UseMessageRetry(r =>
        {
            r.Ignore<MalformedMessageException>();
            r.Intervals(100, 500, 1000, 2000, 5000);
        });
}
