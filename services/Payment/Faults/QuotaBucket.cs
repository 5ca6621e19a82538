// scaling-plateau: Payment's global rate quota, the shared bottleneck that more Ordering replicas cannot scale past.
// One token bucket per process (the fleet runs one Payment instance, so it is fleet-wide): refilled at the quota per
// second, holding at most one second of quota; a call without a token gets 429 + Retry-After. Doc: docs/failure-modes/scaling-plateau.md
namespace ReliableShop.Payment.Faults;

public sealed class QuotaBucket(TimeProvider time)
{
    private readonly Lock gate = new();
    private (double Rate, DateTimeOffset Since) owner; // a new rate or a new toggle starts a full bucket
    private double tokens;
    private long refilledAt;

    /// <summary>Takes a token; when none is left, returns false and the whole seconds until the next one (≥ 1).</summary>
    public bool TryTake(double perSecond, DateTimeOffset since, out int retryAfterSeconds)
    {
        lock (gate)
        {
            var now = time.GetTimestamp();
            if (owner != (perSecond, since))
            {
                (owner, tokens) = ((perSecond, since), perSecond);
            }
            else
            {
                tokens = Math.Min(perSecond, tokens + time.GetElapsedTime(refilledAt, now).TotalSeconds * perSecond);
            }
            refilledAt = now;
            if (tokens >= 1)
            {
                tokens -= 1;
                retryAfterSeconds = 0;
                return true;
            }
            retryAfterSeconds = Math.Max(1, (int)Math.Ceiling((1 - tokens) / perSecond));
            return false;
        }
    }
}
