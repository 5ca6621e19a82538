// Server-side fault injection for Payment: what every active failure mode imposes on a provider request, computed
// with NO I/O — a read of the in-memory toggles snapshot, the injected clock and an injectable Random. Phased faults
// (an outage, then errors) are timed from the mode's Since, so every replica agrees. Doc: docs/failure-modes/README.md
//
//   mode (article it serves)                                      fault on authorize / capture / void
//   timeouts-cascade  When Timeouts Didn't Prevent Cascading …    service time paymentServiceTimeMs; reproduce ignores cancellation
//   retry-storm       Adding Retries Can Make Outages Worse       slots × capacityFraction; Payment's own retry layer and ignored
//                                                                 cancellation in reproduce; contain sheds retries
//   retry-budget      Retry Budgets in Microservices              fast 503s for outageSeconds, then errorRateAfter random 503s
//   scaling-plateau   Why Horizontal Scaling Didn't Improve …     global quota paymentQuotaPerSecond → 429 + Retry-After; service time paymentServiceTimeMs
//   pool-exhaustion   Database Connection Pool Exhaustion …       service time paymentServiceTimeMs (Ordering holds its tx across it)
//   load-only-bugs    Why Bugs Appear Only Under Production Load  tailLatencyPercent % of calls + tailLatencyMs
//   circuit-breaker   Circuit Breaker Pattern in Microservices    hard down downSeconds, then brown-out latency + error rate
using ReliableShop.FailureModes;
using ReliableShop.Payment.Capacity;

namespace ReliableShop.Payment.Faults;

public sealed class PaymentFaults(
    FailureModeToggles toggles, CapacityModel capacity, QuotaBucket quota, TimeProvider time,
    [FromKeyedServices(PaymentFaults.RandomKey)] Random random)
{
    public const string RandomKey = "payment-faults"; // tests register a seeded Random under this key

    /// <summary>The faults for one request.</summary>
    public FaultPlan Plan()
    {
        var modes = toggles.Current;
        SyncCapacity(modes);
        var now = time.GetUtcNow();
        var (cascade, storm, budget, plateau, tail, breaker) = (modes["timeouts-cascade"], modes["retry-storm"],
            modes["retry-budget"], modes["scaling-plateau"], modes["load-only-bugs"], modes["circuit-breaker"]);
        var brownout = breaker.FaultInjected && !HardDown(breaker, now);
        return new FaultPlan(
            RejectNow: Down(breaker, now) ?? Outage(budget, now) ?? OverQuota(plateau) ?? RandomError(budget),
            Latency: TailLatency(tail) + (brownout ? Ms(breaker["brownoutLatencyMs"]) : TimeSpan.Zero),
            // circuit-breaker: during the brown-out, brownoutErrorRate of calls fail — slowly, after the latency.
            RejectAfterLatency: brownout && Chance(breaker["brownoutErrorRate"])
                ? FaultRejection.Failing(FaultKind.Error503, "Payment is browning out", "circuit-breaker: brown-out error.") : null,
            ShedRetriesWhenSaturated: storm.State == FailureModeState.Contain,
            // timeouts-cascade, retry-storm — reproduce: Payment ignores the caller's cancellation and finishes
            //   abandoned work (every timed-out attempt still costs a slot: what turns retries into a storm).
            // contain: Payment honours RequestAborted; a caller that gave up frees its place in line.
            IgnoreCancellation: cascade.Naive || storm.Naive,
            // retry-storm — reproduce: a provider attempt timeout (attemptTimeoutMs) below the degraded latency, and
            //                          Payment retries every timed-out provider call, even one that is itself a retry:
            //                          each queued attempt times out, is abandoned still holding its place, and is
            //                          tried again — two layers of r retries multiply to (r + 1)² attempts per charge.
            //               contain:   one retry layer, the caller's (X-Attempt marks its retries; a saturated Payment
            //                          sheds them first): Payment retries nothing, and no attempt timeout undercuts the
            //                          caller's deadline — the charge waits for its slot until done or the caller gives
            //                          up (RequestAborted), so nothing is abandoned holding a place.
            ProviderRetries: storm.Naive ? (int)storm["retries"] : 0,
            AttemptTimeout: storm.Naive ? Ms(storm["attemptTimeoutMs"]) : null);
    }

    /// <summary>Applies the capacity the active modes ask for (the configured one when none does) to the model.</summary>
    public void SyncCapacity() => SyncCapacity(toggles.Current);

    private void SyncCapacity(FailureModeSnapshot modes)
    {
        var configured = capacity.Configured;
        var (cascade, storm, pool, plateau) = (modes["timeouts-cascade"], modes["retry-storm"], modes["pool-exhaustion"], modes["scaling-plateau"]);
        // timeouts-cascade, pool-exhaustion, scaling-plateau: a slow Payment (service time paymentServiceTimeMs); the slower one wins.
        var serviceTime = new[] { cascade, pool, plateau }.Where(m => m.FaultInjected)
            .Select(m => Ms(m["paymentServiceTimeMs"])).DefaultIfEmpty(configured.ServiceTime).Max();
        // retry-storm: Payment's capacity cut to capacityFraction of its slots (about a third by default).
        var slots = storm.FaultInjected
            ? Math.Max(1, (int)Math.Round(configured.Slots * storm["capacityFraction"], MidpointRounding.AwayFromZero))
            : configured.Slots;
        if (slots != capacity.Slots || serviceTime != capacity.ServiceTime) capacity.Update(slots, serviceTime);
    }

    // circuit-breaker: Payment hard down for downSeconds after the toggle — 503 at once, no slot taken.
    private static FaultRejection? Down(ActiveFailureMode breaker, DateTimeOffset now) => HardDown(breaker, now)
        ? FaultRejection.Unavailable(FaultKind.Down, "Payment is down", $"circuit-breaker: hard down for {breaker["downSeconds"]} s.")
        : null;

    private static bool HardDown(ActiveFailureMode breaker, DateTimeOffset now) =>
        breaker.FaultInjected && breaker.Elapsed(now) < TimeSpan.FromSeconds(breaker["downSeconds"]);

    // retry-budget: 100 % fast 503s for outageSeconds after the toggle … (failures without Retry-After: what the budget
    // limits is the caller's own retries)
    private static FaultRejection? Outage(ActiveFailureMode budget, DateTimeOffset now) =>
        budget.FaultInjected && budget.Elapsed(now) < TimeSpan.FromSeconds(budget["outageSeconds"])
            ? FaultRejection.Failing(FaultKind.Error503, "Payment is failing", $"retry-budget: outage of {budget["outageSeconds"]} s.")
            : null;

    // … then errorRateAfter of calls fail at random (the phase where a budget must not remove the benefit of retries).
    private FaultRejection? RandomError(ActiveFailureMode budget) =>
        budget.FaultInjected && Chance(budget["errorRateAfter"])
            ? FaultRejection.Failing(FaultKind.Error503, "Payment is failing", "retry-budget: random error after the outage.")
            : null;

    // scaling-plateau: the global quota — 429 with Retry-After (seconds until the next token) above it.
    private FaultRejection? OverQuota(ActiveFailureMode plateau) =>
        !plateau.FaultInjected || quota.TryTake(plateau["paymentQuotaPerSecond"], plateau.Since, out var retryAfter) ? null
            : new(FaultKind.Quota429, StatusCodes.Status429TooManyRequests, retryAfter, "Payment quota exceeded",
                $"scaling-plateau: at most {plateau["paymentQuotaPerSecond"]} calls per second.");

    // load-only-bugs: tailLatencyPercent % of calls take tailLatencyMs longer (the tail that widens race windows).
    private TimeSpan TailLatency(ActiveFailureMode tail) =>
        tail.FaultInjected && Chance(tail["tailLatencyPercent"] / 100) ? Ms(tail["tailLatencyMs"]) : TimeSpan.Zero;

    private bool Chance(double probability)
    {
        if (probability <= 0) return false;
        lock (random) return random.NextDouble() < probability; // a seeded Random is not thread-safe
    }

    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);
}
