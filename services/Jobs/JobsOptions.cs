// Guarantee: the worker pool starts only with limits that make sense together; a typo or a bad value stops the host.
// Failure handled: a lease shorter than the poll interval or a reaper slower than the lease would silently delay recovery.
// Doc: docs/failure-modes/skip-locked-queue.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Jobs;

public sealed class JobsOptions : IValidatableObject
{
    public const string SectionName = "Jobs";

    /// <summary>Handlers running at once in this process; never more jobs in flight than this.</summary>
    [Range(1, 256)] // ≥ 100, so a batched claim of 100 (B2 of docs/benchmarks.md) can fill free workers
    public int Workers { get; set; } = 4;

    /// <summary>Most jobs claimed by one claim statement (capped by free workers).</summary>
    [Range(1, 1000)]
    public int BatchSize { get; set; } = 10;

    /// <summary>How long a claim is valid; a handler is cancelled at the end of it and the reaper may re-queue the job.</summary>
    [Range(1, 3600)]
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>Polling fallback when no NOTIFY arrives (scheduled jobs, retries, lost notifications).</summary>
    [Range(10, 600_000)]
    public int PollIntervalMs { get; set; } = 1000;

    /// <summary>Attempts before a failing job goes to 'dead' (jobs whose max_attempts column is NULL).</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>Delay before the first retry; doubles per attempt, with jitter.</summary>
    [Range(1, 3_600_000)]
    public int RetryBaseDelayMs { get; set; } = 500;

    /// <summary>Upper bound of the retry delay.</summary>
    [Range(1, 86_400_000)]
    public int RetryMaxDelayMs { get; set; } = 60_000;

    /// <summary>How often expired leases are looked for.</summary>
    [Range(1, 3600)]
    public int ReaperIntervalSeconds { get; set; } = 5;

    /// <summary>How long succeeded rows are kept (their unique_key keeps blocking duplicates until then).</summary>
    [Range(1, 8760)]
    public int RetentionHours { get; set; } = 24;

    /// <summary>How often succeeded rows older than RetentionHours are deleted.</summary>
    [Range(1, 86_400)]
    public int CleanupIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// Most jobs of one kind running at once in this process (kinds not listed: up to Workers). A backlog of a limited
    /// kind — the PaymentPending authorizations left by an outage — then drains at a bounded pace, and the other kinds
    /// are claimed first, so it does not take every worker (nor the recovering dependency) from live work.
    /// </summary>
    public Dictionary<string, int> KindConcurrency { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Most jobs of one kind started per second in this process (kinds not listed: no rate). Concurrency alone paces a
    /// backlog by its handler's latency — as fast as live work once the dependency is healthy again; a rate leaves the
    /// rest of the system's capacity to live traffic while the backlog drains (JobKindPace.cs).
    /// </summary>
    public Dictionary<string, double> KindRatePerSecond { get; set; } = new(StringComparer.Ordinal);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (kind, limit) in KindConcurrency.Where(k => k.Value is < 1 or > 256))
        {
            yield return new ValidationResult(
                $"Jobs:KindConcurrency:{kind} ({limit}) must be between 1 and 256.", [nameof(KindConcurrency)]);
        }
        foreach (var (kind, rate) in KindRatePerSecond.Where(k => !double.IsFinite(k.Value) || k.Value is < 0.1 or > 10_000))
        {
            yield return new ValidationResult(
                $"Jobs:KindRatePerSecond:{kind} ({rate}) must be between 0.1 and 10000.", [nameof(KindRatePerSecond)]);
        }
        if ((long)LeaseSeconds * 1000 <= PollIntervalMs)
        {
            yield return new ValidationResult(
                $"Jobs:LeaseSeconds ({LeaseSeconds} s) must be longer than Jobs:PollIntervalMs ({PollIntervalMs} ms).",
                [nameof(LeaseSeconds), nameof(PollIntervalMs)]);
        }
        if (ReaperIntervalSeconds > LeaseSeconds)
        {
            yield return new ValidationResult(
                $"Jobs:ReaperIntervalSeconds ({ReaperIntervalSeconds}) must not exceed Jobs:LeaseSeconds ({LeaseSeconds}); " +
                "otherwise a crashed worker's jobs wait up to two leases.",
                [nameof(ReaperIntervalSeconds), nameof(LeaseSeconds)]);
        }
        if (RetryMaxDelayMs < RetryBaseDelayMs)
        {
            yield return new ValidationResult(
                $"Jobs:RetryMaxDelayMs ({RetryMaxDelayMs}) must be at least Jobs:RetryBaseDelayMs ({RetryBaseDelayMs}).",
                [nameof(RetryMaxDelayMs), nameof(RetryBaseDelayMs)]);
        }
    }
}
