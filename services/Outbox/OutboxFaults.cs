// Fault hook of the outbox drill: a relay that "crashes" after the broker confirmed a publish but before the row is
// marked published. The lease expires, the row is published again under the SAME MessageId, and the consumer's inbox
// absorbs the duplicate — what at-least-once with idempotent consumers guarantees. The library has no opinion on
// toggles: the host supplies an IOutboxFaults (Ordering reads the outbox toggle); without one there is no fault.
// Doc: docs/failure-modes/outbox.md
namespace ReliableShop.Outbox;

public interface IOutboxFaults
{
    /// <summary>True: abandon this row after a confirmed publish without marking it (simulated relay crash).</summary>
    bool CrashAfterPublish(Guid messageId);
}

internal sealed class NoOutboxFaults : IOutboxFaults
{
    public bool CrashAfterPublish(Guid messageId) => false;
}
