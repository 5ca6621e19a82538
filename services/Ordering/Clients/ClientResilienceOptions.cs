// Per-dependency resilience limits, each client bound to its own section (Resilience:Inventory, Resilience:Payment):
// a Payment outage must not tune, or trip, Inventory's pipeline. Inconsistent values stop the service at start.
// Doc: docs/failure-modes/circuit-breaker.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Ordering.Clients;

public abstract class ClientResilienceOptions : IValidatableObject
{
    /// <summary>Budget of one logical call, all attempts and backoff delays included.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan TotalTimeout { get; set; }

    /// <summary>Budget of one attempt (inside the breaker, so a hung attempt counts as a failure).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:02:00")]
    public TimeSpan AttemptTimeout { get; set; }

    /// <summary>Retries after the first attempt (0 = no retry). Only requests marked idempotent are ever retried.</summary>
    [Range(0, 10)]
    public int MaxRetryAttempts { get; set; }

    /// <summary>First backoff delay; doubles per retry, with jitter. A Retry-After header overrides it.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan RetryBaseDelay { get; set; }

    /// <summary>Share of failed attempts in the sampling window that opens the breaker.</summary>
    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; }

    /// <summary>Attempts the window must hold before the ratio is trusted.</summary>
    [Range(2, 100_000)]
    public int MinimumThroughput { get; set; }

    /// <summary>Window over which the failure ratio is computed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:30:00")]
    public TimeSpan SamplingDuration { get; set; }

    /// <summary>How long the breaker stays open before letting one probe through (half-open).</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:30:00")]
    public TimeSpan BreakDuration { get; set; }

    /// <summary>Bulkhead: calls to this dependency in flight at once from this instance.</summary>
    [Range(1, 10_000)]
    public int BulkheadPermitLimit { get; set; } = 32;

    /// <summary>Bulkhead: calls allowed to wait for a permit; beyond this a call fails at once.</summary>
    [Range(0, 10_000)]
    public int BulkheadQueueLimit { get; set; } = 32;

    /// <summary>Retry budget: retries allowed as a percentage of logical calls over the window.</summary>
    [Range(1, 100)]
    public int RetryBudgetPercent { get; set; } = 10;

    /// <summary>Retry budget: retries always allowed per second, so a quiet client can still retry at all.</summary>
    [Range(0, 1000)]
    public int RetryBudgetMinPerSecond { get; set; } = 1;

    /// <summary>Retry budget: sliding window, in seconds.</summary>
    [Range(1, 600)]
    public int RetryBudgetWindowSeconds { get; set; } = 10;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var section = $"Resilience:{SectionSuffix}";
        // The window must hold at least two attempts that time out; with a shorter window a slow dependency
        // (every attempt hitting AttemptTimeout) never accumulates MinimumThroughput failures and never opens it.
        if (SamplingDuration < 2 * AttemptTimeout)
        {
            yield return new ValidationResult(
                $"{section}:SamplingDuration ({SamplingDuration}) must be >= 2 × {section}:AttemptTimeout ({AttemptTimeout}).",
                [nameof(SamplingDuration), nameof(AttemptTimeout)]);
        }
        if (TotalTimeout <= AttemptTimeout)
        {
            yield return new ValidationResult(
                $"{section}:TotalTimeout ({TotalTimeout}) must be > {section}:AttemptTimeout ({AttemptTimeout}); otherwise no retry can ever start.",
                [nameof(TotalTimeout), nameof(AttemptTimeout)]);
        }
    }

    protected abstract string SectionSuffix { get; }
}

public sealed class InventoryResilienceOptions : ClientResilienceOptions
{
    public const string SectionName = "Resilience:Inventory";

    public InventoryResilienceOptions()
    {
        TotalTimeout = TimeSpan.FromSeconds(3);
        AttemptTimeout = TimeSpan.FromSeconds(1);
        MaxRetryAttempts = 2;
        RetryBaseDelay = TimeSpan.FromMilliseconds(100);
        FailureRatio = 0.5;
        MinimumThroughput = 10;
        SamplingDuration = TimeSpan.FromSeconds(10);
        BreakDuration = TimeSpan.FromSeconds(5);
    }

    protected override string SectionSuffix => "Inventory";
}

public sealed class PaymentResilienceOptions : ClientResilienceOptions
{
    public const string SectionName = "Resilience:Payment";

    public PaymentResilienceOptions()
    {
        TotalTimeout = TimeSpan.FromSeconds(4); // inside Orders:RequestDeadline, so the 202 fallback answers before it
        AttemptTimeout = TimeSpan.FromMilliseconds(2500);
        MaxRetryAttempts = 2;
        RetryBaseDelay = TimeSpan.FromMilliseconds(200);
        FailureRatio = 0.5;
        MinimumThroughput = 10;
        // The failure ratio is over this window, and it starts full of the successes from before the outage: at a 50 %
        // ratio the breaker opens about half a window after the dependency dies (circuit-breaker drill, measured: 8.5 s
        // with 30 s, 7 s with 10 s on the replica that opened last). 5 s is the shortest that still holds two attempts
        // that time out (the rule below).
        SamplingDuration = TimeSpan.FromSeconds(5);
        BreakDuration = TimeSpan.FromSeconds(5);
        // Payment serves 100 charges/s at 0.1 s: 10 calls in flight use it fully. A replica may have 16 in flight (room
        // for latency spikes, its jobs and a second replica's share); more could only queue at Payment, and there is
        // no queue here: a full bulkhead answers at once (→ the 202 fallback) instead of waiting past the SLO.
        BulkheadPermitLimit = 16;
        BulkheadQueueLimit = 0;
    }

    protected override string SectionSuffix => "Payment";
}
