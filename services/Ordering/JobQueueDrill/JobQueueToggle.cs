// The skip-locked-queue toggle, read by the job queue before every claim (services/Jobs/JobQueueFaults.cs):
// off → SKIP LOCKED batch claim, no faults · reproduce → the naive claim chosen by parameter claimStrategy
// (1 = select-then-update, 2 = blocking FOR UPDATE processed inside the claim transaction) + workerCrashPercent
// crashes · contain → SKIP LOCKED batch claim + lease + reaper + fenced completion, with the same crashes.
// Doc: docs/failure-modes/skip-locked-queue.md
using ReliableShop.FailureModes;
using ReliableShop.Jobs;

namespace ReliableShop.Ordering.JobQueueDrill;

public sealed class JobQueueToggle(FailureModeToggles toggles) : IJobQueueFaults
{
    public const string Mode = "skip-locked-queue";

    public JobClaimStrategy ClaimStrategy
    {
        get
        {
            var mode = toggles[Mode];
            if (!mode.Naive) return JobClaimStrategy.SkipLockedBatch;
            return mode["claimStrategy"] >= 2 ? JobClaimStrategy.BlockingInTransaction : JobClaimStrategy.SelectThenUpdate;
        }
    }

    // A simulated worker death right after the claim (no handler run, no outcome): what an OOM-kill or a deploy does.
    public bool CrashAfterClaim(long jobId)
    {
        var mode = toggles[Mode];
        return mode.FaultInjected && Random.Shared.NextDouble() * 100 < mode["workerCrashPercent"];
    }
}
