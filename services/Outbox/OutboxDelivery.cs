// Delivers one claimed row: publish as its registered type within PublishTimeoutMs (broker confirm included), then
// settle it fenced by the claim token — published, or failed with backoff, or dead after MaxAttempts.
// Doc: docs/failure-modes/outbox.md
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace ReliableShop.Outbox;

internal sealed partial class OutboxDelivery(
    OutboxStore store, IOutboxPublisher publisher, OutboxMessageTypes types, OutboxOptions options,
    OutboxMetrics metrics, TimeProvider time, ILogger logger, IOutboxFaults? faults = null)
{
    private const int MaxErrorLength = 2000;

    /// <summary>True when the row was published (or settled by another relay); false when this attempt failed.</summary>
    public async Task<bool> DeliverAsync(ClaimedMessage row, Guid token, CancellationToken ct)
    {
        try
        {
            await PublishWithTimeoutAsync(row, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            await RecordFailureAsync(row, token, e, ct);
            return false;
        }
        // If this update is lost (crash, DB down), the lease expires and the row is published again: at-least-once;
        // the consumer's inbox absorbs the duplicate (same MessageId).
        if (faults?.CrashAfterPublish(row.Id) == true)
        {
            LogSimulatedCrash(row.Id);
            return true; // the row keeps its claim: republished after the lease (outbox drill, contain)
        }
        if (await store.MarkPublishedAsync(row.Id, token, ct)) metrics.Published();
        else LogLeaseLost(row.Id);
        return true;
    }

    private async Task PublishWithTimeoutAsync(ClaimedMessage row, CancellationToken ct)
    {
        if (!types.TryResolve(row.MessageType, out var type))
        {
            throw new InvalidOperationException($"Message type '{row.MessageType}' is not registered in AddOutbox.");
        }
        var message = JsonSerializer.Deserialize(row.Payload, type, OutboxWriter.Json)
            ?? throw new InvalidOperationException($"Payload of {row.Id} deserialized to null.");
        var publishTimeout = TimeSpan.FromMilliseconds(options.PublishTimeoutMs);
        using var timeout = new CancellationTokenSource(publishTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
        try
        {
            await publisher.PublishAsync(row.Id, message, type, linked.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Broker did not confirm the publish within {options.PublishTimeoutMs} ms.");
        }
    }

    private async Task RecordFailureAsync(ClaimedMessage row, Guid token, Exception error, CancellationToken ct)
    {
        var attempt = row.Attempts + 1;
        var delay = Backoff.Next(attempt, TimeSpan.FromMilliseconds(options.RetryBaseDelayMs),
            TimeSpan.FromMilliseconds(options.RetryMaxDelayMs), Random.Shared);
        var text = $"{error.GetType().Name}: {error.Message}";
        var status = await store.MarkFailedAsync(row.Id, token, options.MaxAttempts, delay, text[..Math.Min(text.Length, MaxErrorLength)], ct);
        metrics.Failed();
        switch (status)
        {
            case null:
                LogLeaseLost(row.Id);
                break;
            case "dead":
                metrics.DeadLettered();
                LogDeadLettered(error, row.Id, row.MessageType, attempt);
                break;
            default:
                LogPublishFailed(error, row.Id, attempt, delay.TotalMilliseconds);
                break;
        }
    }

    [LoggerMessage(LogLevel.Warning, "Outbox message {MessageId} publish attempt {Attempt} failed; retry in {DelayMs:0} ms")]
    private partial void LogPublishFailed(Exception e, Guid messageId, int attempt, double delayMs);

    [LoggerMessage(LogLevel.Error, "Outbox message {MessageId} ({MessageType}) is dead after {Attempts} attempts; replay it via OutboxAdmin")]
    private partial void LogDeadLettered(Exception e, Guid messageId, string messageType, int attempts);

    [LoggerMessage(LogLevel.Warning, "Outbox message {MessageId}: simulated relay crash after the broker confirmed; republished after the lease (outbox drill)")]
    private partial void LogSimulatedCrash(Guid messageId);

    [LoggerMessage(LogLevel.Warning, "Outbox message {MessageId}: its lease passed to another relay before this one settled it (a duplicate publish is possible)")]
    private partial void LogLeaseLost(Guid messageId);
}
