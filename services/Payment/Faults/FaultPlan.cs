// What the active failure modes impose on one provider request (authorize, capture, void), decided up front by
// PaymentFaults from the in-memory toggles and the clock, then applied in order by FaultInjectionFilter.
// Doc: docs/failure-modes/README.md
namespace ReliableShop.Payment.Faults;

/// <summary>The kinds counted in /admin/stats (payment.faults) and reliableshop.payment.faults{kind}.</summary>
public enum FaultKind { Latency, Error503, Down, Quota429, ShedRetry, ProviderTimeout }

/// <summary>
/// An answer given instead of the charge: 503 (or 429) ProblemDetails, with Retry-After when Payment asks for time
/// (down, saturated, over quota); a plain failure (an error burst, a random error) carries none (RetryAfterSeconds 0),
/// as a failing server's would: the caller's own backoff decides.
/// </summary>
public sealed record FaultRejection(FaultKind Kind, int StatusCode, int RetryAfterSeconds, string Title, string Detail)
{
    /// <summary>503 + Retry-After: 1 — Payment is down or saturated and says when to come back.</summary>
    public static FaultRejection Unavailable(FaultKind kind, string title, string detail) =>
        new(kind, StatusCodes.Status503ServiceUnavailable, 1, title, detail);

    /// <summary>503 without Retry-After — a failure, not a request for time.</summary>
    public static FaultRejection Failing(FaultKind kind, string title, string detail) =>
        new(kind, StatusCodes.Status503ServiceUnavailable, 0, title, detail);
}

/// <param name="RejectNow">Answered at once, before any slot is taken (down, outage, quota, random error).</param>
/// <param name="Latency">Added before the charge, without holding a slot (tail latency, brown-out).</param>
/// <param name="RejectAfterLatency">A slow failure: answered after <paramref name="Latency"/> (brown-out errors).</param>
/// <param name="ShedRetriesWhenSaturated">retry-storm contain: a retry is refused while the queue is ≥ the slots.</param>
/// <param name="IgnoreCancellation">timeouts-cascade reproduce: keep working after the caller gave up.</param>
/// <param name="ProviderRetries">retry-storm: how often Payment re-attempts a provider call that timed out.</param>
/// <param name="AttemptTimeout">retry-storm: Payment's per-attempt timeout on its provider; null = wait for it.</param>
public sealed record FaultPlan(
    FaultRejection? RejectNow,
    TimeSpan Latency,
    FaultRejection? RejectAfterLatency,
    bool ShedRetriesWhenSaturated,
    bool IgnoreCancellation,
    int ProviderRetries,
    TimeSpan? AttemptTimeout);
