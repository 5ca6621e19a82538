namespace ReliableShop.Inventory.Catalog;

/// <summary>Lets one log line through per interval and counts the rest: a Redis outage must not flood the logs (one line per request).</summary>
public sealed class OccasionalLog(TimeProvider time, TimeSpan interval)
{
    private long nextAllowedTicks;
    private long suppressed;

    public bool ShouldLog(out long suppressedSinceLast)
    {
        var now = time.GetUtcNow().UtcTicks;
        var next = Interlocked.Read(ref nextAllowedTicks);
        if (now >= next && Interlocked.CompareExchange(ref nextAllowedTicks, now + interval.Ticks, next) == next)
        {
            suppressedSinceLast = Interlocked.Exchange(ref suppressed, 0);
            return true;
        }
        Interlocked.Increment(ref suppressed);
        suppressedSinceLast = 0;
        return false;
    }
}
