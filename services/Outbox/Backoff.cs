// Retry delay for a failed publish: exponential (base × 2^(attempt-1)), capped, with "equal jitter" — a random
// point in the upper half — so relays retrying after a shared broker outage spread out instead of stampeding.
// Doc: docs/failure-modes/outbox.md
namespace ReliableShop.Outbox;

public static class Backoff
{
    /// <summary>Delay before retry number <paramref name="attempt"/> (1 = first retry), in [d/2, d] with d = min(max, base × 2^(attempt-1)).</summary>
    public static TimeSpan Next(int attempt, TimeSpan baseDelay, TimeSpan maxDelay, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(baseDelay, maxDelay);
        // 2^30 × 1 ms already exceeds any sane cap; clamping the exponent keeps the double finite.
        var exponential = baseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(exponential, maxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped / 2 + random.NextDouble() * capped / 2);
    }
}
