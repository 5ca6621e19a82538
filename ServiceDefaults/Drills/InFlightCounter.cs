// Work in progress and the most there was at once since the last reset: the "queues within bounds" numbers of the
// drills (placements at Ordering's door, reservations in Inventory's consumer). Lock-free: entering is an increment,
// plus a compare-and-swap when it sets a new high.
namespace ReliableShop.Drills;

public sealed class InFlightCounter
{
    private long current, peak;

    public long Current => Interlocked.Read(ref current);

    public long Peak => Interlocked.Read(ref peak);

    /// <summary>Counts one unit of work until the returned scope is disposed.</summary>
    public Scope Enter()
    {
        RunningMax.Raise(ref peak, Interlocked.Increment(ref current));
        return new Scope(this);
    }

    /// <summary>For a new drill phase: the peak starts again from what is in flight now.</summary>
    public void ResetPeak() => Interlocked.Exchange(ref peak, Current);

    public readonly struct Scope(InFlightCounter counter) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref counter.current);
    }
}

public static class RunningMax
{
    /// <summary>Sets <paramref name="max"/> to <paramref name="value"/> if that is higher, atomically against other raisers.</summary>
    public static void Raise(ref long max, long value)
    {
        for (var seen = Interlocked.Read(ref max); value > seen; seen = Interlocked.Read(ref max))
        {
            if (Interlocked.CompareExchange(ref max, value, seen) == seen) return;
        }
    }
}
