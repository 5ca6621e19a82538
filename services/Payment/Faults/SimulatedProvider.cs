// The charge at the simulated provider: a capacity slot held for the service time. With retry-storm on, Payment
// calls it with a short attempt timeout: an attempt that outlives it is abandoned — it keeps its place in the queue
// and its slot until its service time ends, as real abandoned work does — and, while retries remain, attempted again,
// holding a further slot: the second retry layer that multiplies the load. Doc: docs/failure-modes/retry-storm.md
using ReliableShop.Payment.Capacity;
using ReliableShop.Payment.Telemetry;

namespace ReliableShop.Payment.Faults;

public sealed class SimulatedProvider(CapacityModel capacity, PaymentStats stats, TimeProvider time)
{
    /// <summary>True once an attempt finished within the attempt timeout (always, without one); false when all timed out.</summary>
    public async Task<bool> ChargeAsync(FaultPlan plan, ChargePriority priority, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            if (attempt > 0) stats.ProviderRetried();
            var call = capacity.EnterAsync(priority, ct);
            if (plan.AttemptTimeout is not { } timeout || await FinishesWithinAsync(call, timeout, ct))
            {
                (await call).Dispose(); // the slot models the provider's work; recording the result holds none
                return true;
            }
            _ = ReleaseWhenDoneAsync(call);
            if (attempt >= plan.ProviderRetries) return false;
        }
    }

    private async Task<bool> FinishesWithinAsync(Task call, TimeSpan timeout, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var finished = await Task.WhenAny(call, Task.Delay(timeout, time, timer.Token)) == call;
        await timer.CancelAsync();
        ct.ThrowIfCancellationRequested();
        return finished;
    }

    private async Task ReleaseWhenDoneAsync(Task<IDisposable> abandoned)
    {
        try
        {
            using var slot = await abandoned;
            stats.Charged(callerGone: true); // the provider did the work; nobody was waiting for it any more
        }
        catch (OperationCanceledException)
        {
            // the caller's cancellation reached the abandoned attempt too (contain / off): nothing is held
        }
    }
}
