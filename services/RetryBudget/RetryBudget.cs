// A retry budget (Finagle-style): retries are allowed only while, over a sliding window, retries ≤ Percent % of the
// original requests plus a small floor per second. Per-request caps ("3 retries") still let fleet-wide retry traffic
// reach 3 × load exactly when the dependency is weakest; a budget caps it at ~1.1 × load. Exhausted ⇒ fail fast.
// Doc: docs/failure-modes/retry-budget.md
namespace ReliableShop.RetryBudget;

public sealed class RetryBudget
{
    private readonly RetryBudgetOptions options;
    private readonly TimeProvider time;
    private readonly Func<RetryBudgetLimits> limits;
    private readonly long[] requests, retries; // per-second buckets of the sliding window, indexed by second % window
    private readonly long[] bucketSecond;
    private readonly Lock gate = new();
    private long requestsTotal, retriesAllowed, retriesRefused;

    /// <param name="limits">Optional live limits (percent, floor) read at every withdrawal; the options' values otherwise.</param>
    public RetryBudget(RetryBudgetOptions options, TimeProvider time, Func<RetryBudgetLimits>? limits = null)
    {
        this.options = options;
        this.time = time;
        this.limits = limits ?? (() => new RetryBudgetLimits(options.Percent, options.MinRetriesPerSecond));
        requests = new long[options.WindowSeconds];
        retries = new long[options.WindowSeconds];
        bucketSecond = new long[options.WindowSeconds];
    }

    /// <summary>Deposit: one original request (first attempt) was made.</summary>
    public void RecordRequest()
    {
        lock (gate)
        {
            requests[Bucket()]++;
            requestsTotal++;
        }
    }

    /// <summary>Withdraw: true if one more retry fits the budget (and counts it), false if the budget is exhausted.</summary>
    public bool TryWithdrawRetry()
    {
        lock (gate)
        {
            var bucket = Bucket();
            var (percent, minPerSecond) = limits();
            var allowed = requests.Sum() * percent / 100.0 + minPerSecond * options.WindowSeconds;
            if (retries.Sum() + 1 > allowed)
            {
                retriesRefused++;
                return false;
            }
            retries[bucket]++;
            retriesAllowed++;
            return true;
        }
    }

    public RetryBudgetStats Stats
    {
        get
        {
            lock (gate) return new(requestsTotal, retriesAllowed, retriesRefused);
        }
    }

    // The bucket of the current second; buckets older than the window are emptied before reuse.
    private int Bucket()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        var index = (int)(second % options.WindowSeconds);
        if (bucketSecond[index] != second)
        {
            bucketSecond[index] = second;
            requests[index] = 0;
            retries[index] = 0;
        }
        for (var i = 0; i < bucketSecond.Length; i++)
        {
            if (second - bucketSecond[i] >= options.WindowSeconds)
            {
                requests[i] = 0;
                retries[i] = 0;
            }
        }
        return index;
    }
}

public readonly record struct RetryBudgetLimits(double Percent, double MinRetriesPerSecond);

public sealed record RetryBudgetStats(long Requests, long RetriesAllowed, long RetriesRefused);
