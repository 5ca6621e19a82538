// Delivers the rows of one claim: each published as its registered type within PublishTimeoutMs (broker confirm
// included), all publishes started in created_at order with their confirms outstanding together, then settled fenced
// by the claim token — the confirmed ones by ONE UPDATE, a failed one with backoff (or dead after MaxAttempts).
// Doc: docs/failure-modes/outbox.md
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace ReliableShop.Outbox;

internal sealed partial class OutboxDelivery(
    OutboxStore store, IOutboxPublisher publisher, OutboxMessageTypes types, OutboxOptions options,
    OutboxMetrics metrics, TimeProvider time, ILogger logger, IOutboxFaults? faults = null)
{
    private const int MaxErrorLength = 2000;

    /// <summary>Publishes every row of a claim and settles them: confirmed rows marked published, the first failed row's
    /// attempt recorded (backoff or dead). Returns whether any failed, and the rows left unsettled for the caller to release.</summary>
    // One broker round trip and one commit per batch instead of one of each per row: the per-row version spent one
    // confirm wait plus one fsync per message (~4 ms each on a 2-core VM; B3 in docs/benchmarks.md).
    public async Task<(bool Failed, Guid[] Unsettled)> DeliverBatchAsync(IReadOnlyList<ClaimedMessage> rows, Guid token, CancellationToken ct)
    {
        var errors = await Task.WhenAll(rows.Select(row => TryPublishAsync(row, ct)));
        var published = rows.Where((_, i) => errors[i] is null).Select(r => r.Id).ToArray();
        // outbox drill (contain): a simulated relay crash after the broker confirmed — the row keeps its claim (neither
        // marked nor released) and is republished after the lease.
        var crashed = faults is null ? [] : published.Where(faults.CrashAfterPublish).ToArray();
        foreach (var id in crashed) LogSimulatedCrash(id);
        published = [.. published.Except(crashed)];
        if (published.Length > 0)
        {
            // If this update is lost (crash, DB down), the lease expires and the rows are published again: at-least-once;
            // the consumer's inbox absorbs the duplicate (same MessageId).
            var marked = await store.MarkPublishedAsync(published, token, ct);
            for (var i = 0; i < marked; i++) metrics.Published();
            if (marked < published.Length) LogLeaseLost(published[0]);
        }
        var firstFailed = Array.FindIndex(errors, e => e is not null);
        if (firstFailed < 0) return (false, []);
        // Only the first failure counts an attempt; the other failed rows go back to pending at once, so a broker outage
        // costs one attempt per batch (not one per row) and does not dead-letter a whole batch early.
        var recorded = !ct.IsCancellationRequested;
        if (recorded) await RecordFailureAsync(rows[firstFailed], token, errors[firstFailed]!, ct);
        return (true, [.. rows.Where((_, i) => errors[i] is not null && !(recorded && i == firstFailed)).Select(r => r.Id)]);
    }

    private async Task<Exception?> TryPublishAsync(ClaimedMessage row, CancellationToken ct)
    {
        try
        {
            await PublishWithTimeoutAsync(row, ct);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
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
