// Consumes OrderPlaced (at-least-once from Ordering's outbox relay) and reserves its stock through StockReservation,
// whose inbox makes a redelivery a no-op. Doc: docs/failure-modes/outbox.md
using MassTransit;
using ReliableShop.Contracts;
using ReliableShop.Drills;

namespace ReliableShop.Inventory.Reservations;

public sealed class OrderPlacedConsumer(
    StockReservation reservation, ConsumerStats stats, OrderPlacedIntake intake, PoisonInjection poison,
    ILogger<OrderPlacedConsumer> logger)
    : IConsumer<OrderPlaced>
{
    public const string StatsName = "orderPlaced";

    public async Task Consume(ConsumeContext<OrderPlaced> context)
    {
        stats.Received(StatsName, context);
        using var running = intake.Consuming();
        var messageId = context.MessageId ?? throw new InvalidOperationException("OrderPlaced without a MessageId cannot be deduplicated.");
        var result = await reservation.ReserveAsync(context.Message.OrderId, context.Message.Lines, messageId, context.CancellationToken);
        if (result == ReservationResult.Duplicate) stats.Duplicate(StatsName);
        await poison.MaybeEmitAsync(result, context.CancellationToken); // background-jobs drill only
        logger.LogInformation("Order {OrderId}: {Result} (message {MessageId})", context.Message.OrderId, result, messageId);
    }
}
