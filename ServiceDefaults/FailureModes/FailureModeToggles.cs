// What the hot path asks: "is this mode on, and in which state?" — a read of an in-memory snapshot, never I/O.
// The snapshot is replaced by FailureModeSync within ~1 s of any change in the shared store (NOTIFY, else polling).
namespace ReliableShop.FailureModes;

public sealed class FailureModeToggles
{
    private volatile FailureModeSnapshot current = FailureModeSnapshot.AllOff;

    public FailureModeSnapshot Current => current;

    public ActiveFailureMode this[string id] => current[id];

    /// <summary>The mode's state; a convenience for `if (modes.StateOf(Ids.Outbox) == Reproduce)`.</summary>
    public FailureModeState StateOf(string id) => current[id].State;

    internal bool Replace(FailureModeSnapshot snapshot)
    {
        if (snapshot.Version == current.Version) return false;
        current = snapshot;
        return true;
    }
}
