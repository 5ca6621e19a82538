// What the hot path asks: "is this mode on, and in which state?" — a read of an in-memory snapshot, never I/O.
// The snapshot is replaced by FailureModeSync within ~1 s of any change in the shared store (NOTIFY, else polling).
namespace ReliableShop.FailureModes;

public sealed class FailureModeToggles
{
    private FailureModeSnapshot current = FailureModeSnapshot.AllOff;

    public FailureModeSnapshot Current => Volatile.Read(ref current);

    public ActiveFailureMode this[string id] => Current[id];

    /// <summary>The mode's state; a convenience for `if (modes.StateOf(Ids.Outbox) == Reproduce)`.</summary>
    public FailureModeState StateOf(string id) => Current[id].State;

    // Only forward: the admin API and the sync loop load concurrently, and a load that started before a write may
    // finish after the load that saw it — replacing by "different version" would put the old snapshot back.
    internal bool Replace(FailureModeSnapshot snapshot)
    {
        while (true)
        {
            var seen = current;
            if (snapshot.Version <= seen.Version) return false;
            if (Interlocked.CompareExchange(ref current, snapshot, seen) == seen) return true;
        }
    }
}
