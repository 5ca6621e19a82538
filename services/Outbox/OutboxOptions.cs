// Relay limits, bound from "Outbox": unknown keys, out-of-range values and inconsistent pairs stop the service at start.
// Doc: docs/failure-modes/outbox.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Outbox;

public sealed class OutboxOptions : IValidatableObject
{
    public const string SectionName = "Outbox";

    /// <summary>Rows one relay claims per round trip (one short claim transaction, then publish one by one).</summary>
    [Range(1, 1000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>Lease of a claim: after it expires a crashed relay's rows are claimed again by another relay.</summary>
    [Range(1, 3600)]
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>Fallback sweep interval when no NOTIFY arrives (NOTIFY normally wakes the relay within milliseconds).</summary>
    [Range(10, 600_000)]
    public int PollIntervalMs { get; set; } = 1000;

    /// <summary>Failed publishes of one row before it becomes dead (replayable through OutboxAdmin).</summary>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Delay after the first failed publish; doubles per attempt, with jitter.</summary>
    [Range(1, 3_600_000)]
    public int RetryBaseDelayMs { get; set; } = 200;

    /// <summary>Upper bound of the retry delay.</summary>
    [Range(1, 3_600_000)]
    public int RetryMaxDelayMs { get; set; } = 30_000;

    /// <summary>Time allowed for one publish including the broker's confirm; a timeout counts as a failed attempt.</summary>
    [Range(100, 600_000)]
    public int PublishTimeoutMs { get; set; } = 5000;

    /// <summary>Published rows are kept this long (for audits and replays), then deleted in batches.</summary>
    [Range(1, 8760)]
    public int RetentionHours { get; set; } = 24;

    /// <summary>Interval between retention cleanups.</summary>
    [Range(1, 86_400)]
    public int CleanupIntervalSeconds { get; set; } = 60;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryMaxDelayMs < RetryBaseDelayMs)
        {
            yield return new ValidationResult(
                $"Outbox:RetryMaxDelayMs ({RetryMaxDelayMs}) must be >= Outbox:RetryBaseDelayMs ({RetryBaseDelayMs}).",
                [nameof(RetryMaxDelayMs), nameof(RetryBaseDelayMs)]);
        }
        // A publish that outlives its lease lets a second relay claim and publish the same row: a needless duplicate.
        if (PublishTimeoutMs >= LeaseSeconds * 1000L)
        {
            yield return new ValidationResult(
                $"Outbox:PublishTimeoutMs ({PublishTimeoutMs}) must be < Outbox:LeaseSeconds ({LeaseSeconds}) × 1000.",
                [nameof(PublishTimeoutMs), nameof(LeaseSeconds)]);
        }
    }
}
