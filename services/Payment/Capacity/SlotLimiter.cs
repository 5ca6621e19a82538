// A FIFO slot limiter whose size can change at runtime (SemaphoreSlim cannot shrink). Waiting is real queueing:
// a caller that cannot get a slot waits in line, and leaves the line when its request is aborted.
// Doc: docs/failure-modes/timeouts-cascade.md
namespace ReliableShop.Payment.Capacity;

public sealed class SlotLimiter(int slots)
{
    private readonly Lock gate = new();
    private readonly LinkedList<TaskCompletionSource> waiters = new();
    private int limit = slots;
    private int inUse;

    public int Limit { get { lock (gate) { return limit; } } }

    public int InUse { get { lock (gate) { return inUse; } } }

    public int Queued { get { lock (gate) { return waiters.Count; } } }

    /// <summary>Completes when the caller holds a slot; the caller must call <see cref="Release"/> exactly once.</summary>
    public Task WaitAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        LinkedListNode<TaskCompletionSource> node;
        lock (gate)
        {
            if (inUse < limit && waiters.Count == 0)
            {
                inUse++;
                return Task.CompletedTask;
            }
            node = waiters.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
        return WaitInLineAsync(node, ct);
    }

    public void Release()
    {
        lock (gate)
        {
            inUse--;
            GrantToWaiters();
        }
    }

    /// <summary>Changes the number of slots; a shrink takes effect as slots are released, a growth at once.</summary>
    public void Resize(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        lock (gate)
        {
            limit = slots;
            GrantToWaiters();
        }
    }

    private async Task WaitInLineAsync(LinkedListNode<TaskCompletionSource> node, CancellationToken ct)
    {
        await using var registration = ct.Register(() => LeaveLine(node, ct));
        await node.Value.Task;
    }

    private void LeaveLine(LinkedListNode<TaskCompletionSource> node, CancellationToken ct)
    {
        lock (gate)
        {
            if (node.List is null)
            {
                return; // already granted a slot: the caller owns it and releases it
            }
            waiters.Remove(node);
        }
        node.Value.TrySetCanceled(ct);
    }

    private void GrantToWaiters()
    {
        while (inUse < limit && waiters.First is { } first)
        {
            waiters.RemoveFirst();
            inUse++;
            first.Value.TrySetResult();
        }
    }
}
