// Guarantee: a failing job is retried later and later (base × 2^(attempt-1), capped), never in lockstep with its peers.
// Failure handled: a dependency outage makes every job fail at once; jitter spreads the retries instead of a thundering herd.
// Doc: docs/failure-modes/skip-locked-queue.md
namespace ReliableShop.Jobs;

internal static class RetryBackoff
{
    /// <summary>"Equal jitter": uniformly in [d/2, d] where d = min(max, base × 2^(attempt-1)) — never less than half of d.</summary>
    public static TimeSpan Delay(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, Random random)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30); // 2^30 × 1 ms already exceeds any allowed RetryMaxDelayMs
        var capped = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds((capped / 2) + (random.NextDouble() * capped / 2));
    }

    public static TimeSpan Delay(int attempt, JobsOptions options, Random random) =>
        Delay(attempt, TimeSpan.FromMilliseconds(options.RetryBaseDelayMs), TimeSpan.FromMilliseconds(options.RetryMaxDelayMs), random);

    /// <summary>
    /// <paramref name="backoff"/>, or — when the failure asked for longer — uniformly in [hint, 1.5 × hint]: never
    /// sooner than asked, and the jobs one outage failed together come back spread out rather than as one wave.
    /// </summary>
    public static TimeSpan NotBefore(TimeSpan backoff, TimeSpan? hint, Random random) =>
        hint is { } h && h > backoff ? h + TimeSpan.FromMilliseconds(random.NextDouble() * h.TotalMilliseconds / 2) : backoff;
}
