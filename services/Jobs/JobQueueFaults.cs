// What the skip-locked-queue drill switches: the claim strategy (the safe batch claim or one of the naive ones in
// JobStore.cs) and simulated worker crashes. The library has no opinion on toggles: the host supplies an
// IJobQueueFaults (Ordering reads its failure-mode toggle); without one the queue runs the safe path, no faults.
// Doc: docs/failure-modes/skip-locked-queue.md
namespace ReliableShop.Jobs;

public enum JobClaimStrategy
{
    /// <summary>Contain/production: atomic batch claim FOR UPDATE SKIP LOCKED, lease + reaper, fenced completion.</summary>
    SkipLockedBatch,

    /// <summary>Naive: SELECT the oldest queued row, then UPDATE it by id — two workers can claim (and run) the same job; no lease.</summary>
    SelectThenUpdate,

    /// <summary>Naive: SELECT … FOR UPDATE (no SKIP LOCKED) and run the handler inside that transaction — workers queue on one row lock.</summary>
    BlockingInTransaction,
}

public interface IJobQueueFaults
{
    /// <summary>Read before every claim: the pool switches strategy within one poll interval.</summary>
    JobClaimStrategy ClaimStrategy { get; }

    /// <summary>True: simulate this worker dying right after it claimed the job (no handler run, no outcome recorded).</summary>
    bool CrashAfterClaim(long jobId);
}

internal sealed class NoJobQueueFaults : IJobQueueFaults
{
    public JobClaimStrategy ClaimStrategy => JobClaimStrategy.SkipLockedBatch;

    public bool CrashAfterClaim(long jobId) => false;
}

/// <summary>The number of handlers allowed to run at once in this process; starts at Jobs:Workers, changeable at runtime
/// (admin API). Lowering it lets running jobs finish; no new claim is made until fewer than the new limit run.</summary>
public sealed class JobWorkers
{
    public const int MaxWorkers = 64;
    private readonly SemaphoreSlim changed = new(0);
    private int limit;
    private int inFlight;

    public JobWorkers(Microsoft.Extensions.Options.IOptions<JobsOptions> options) => limit = options.Value.Workers;

    public int Limit
    {
        get => Volatile.Read(ref limit);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxWorkers);
            Volatile.Write(ref limit, value);
            changed.Release();
        }
    }

    public int InFlight => Volatile.Read(ref inFlight);

    /// <summary>Takes between 1 and <paramref name="max"/> free slots, waiting until at least one is free.</summary>
    internal async Task<int> TakeAsync(int max, CancellationToken ct)
    {
        while (true)
        {
            var free = Limit - InFlight;
            if (free > 0)
            {
                var taken = Math.Min(free, max);
                Interlocked.Add(ref inFlight, taken);
                return taken;
            }
            await changed.WaitAsync(ct);
        }
    }

    internal void Release(int count = 1)
    {
        Interlocked.Add(ref inFlight, -count);
        changed.Release();
    }

    /// <summary>Waits until every taken slot was released (every in-flight job recorded its outcome).</summary>
    internal async Task DrainAsync()
    {
        while (InFlight > 0)
        {
            await changed.WaitAsync(TimeSpan.FromMilliseconds(100));
        }
    }
}
