// Jobs:KindRatePerSecond for one kind: a token bucket refilled at the rate and holding at most one second's worth (at
// least one job). Guarantee: the jobs of the kind this process starts in any window of t seconds are at most
// rate × t + capacity. Why a rate and not only Jobs:KindConcurrency: one job at a time is a rate of 1 ÷ the handler's
// latency — once the dependency is fast again, that is as fast as live traffic, and a backlog drained that fast takes
// the capacity live traffic needs (measured: docs/failure-modes/timeouts-cascade.md). Only the dispatcher uses it (one
// thread): no locking. Doc: docs/failure-modes/circuit-breaker.md
namespace ReliableShop.Jobs;

internal sealed class JobKindPace(double perSecond, TimeProvider time)
{
    private readonly double capacity = Math.Max(1, perSecond);
    private double tokens = Math.Max(1, perSecond);
    private long refilledAt = time.GetTimestamp();

    public double PerSecond => perSecond;

    /// <summary>Jobs of the kind that may start now.</summary>
    public int Available
    {
        get
        {
            var now = time.GetTimestamp();
            tokens = Math.Min(capacity, tokens + time.GetElapsedTime(refilledAt, now).TotalSeconds * perSecond);
            refilledAt = now;
            return (int)Math.Floor(tokens);
        }
    }

    /// <summary>Records <paramref name="started"/> jobs (at most <see cref="Available"/>) as started.</summary>
    public void Take(int started) => tokens -= started;
}
