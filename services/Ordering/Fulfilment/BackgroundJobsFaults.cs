// The background-jobs toggle as the StockReserved consumer sees it (StockReservedConsumer.cs holds both paths):
// reproduce → non-idempotent side effect outside the inbox, crashes after it, immediate retries without backoff,
// poison retried like anything else · contain → effect + inbox in one transaction, crashes after the commit (ack never
// sent: the redelivery is absorbed), bounded retries with backoff, malformed messages straight to the error queue.
// Also the drill's counters ("backgroundJobs" section of /admin/stats). Doc: docs/failure-modes/background-jobs.md
using ReliableShop.Drills;
using ReliableShop.FailureModes;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class BackgroundJobsFaults(FailureModeToggles toggles) : IDrillStatsSource
{
    public const string Mode = "background-jobs";
    private long crashes, poisonAttempts, confirmationsSent;

    public bool Naive => toggles[Mode].Naive;

    /// <summary>True for crashAfterEffectPercent of the calls while the mode is reproduce or contain.</summary>
    public bool InjectCrash()
    {
        var mode = toggles[Mode];
        if (!mode.FaultInjected || Random.Shared.NextDouble() * 100 >= mode["crashAfterEffectPercent"]) return false;
        Interlocked.Increment(ref crashes);
        return true;
    }

    public void PoisonAttempt() => Interlocked.Increment(ref poisonAttempts);

    public void ConfirmationSent() => Interlocked.Increment(ref confirmationsSent);

    public string Section => "backgroundJobs";

    public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(new
    {
        crashes = Interlocked.Read(ref crashes),
        poisonAttempts = Interlocked.Read(ref poisonAttempts),
        confirmationsSent = Interlocked.Read(ref confirmationsSent),
    });

    public void Reset()
    {
        Interlocked.Exchange(ref crashes, 0);
        Interlocked.Exchange(ref poisonAttempts, 0);
        Interlocked.Exchange(ref confirmationsSent, 0);
    }
}

/// <summary>The message can never be processed (a required field is missing): retrying cannot help.</summary>
public sealed class MalformedMessageException(string message) : Exception(message);

/// <summary>Injected by the background-jobs drill: the consumer "dies" after its side effect, before the ack.</summary>
public sealed class SimulatedConsumerCrashException(string message) : Exception(message);
