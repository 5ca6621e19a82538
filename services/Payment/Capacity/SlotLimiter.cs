// A slot limiter whose size can change at runtime (SemaphoreSlim cannot shrink). Waiting is real queueing: a caller
// that cannot get a slot waits in line, and leaves the line when its request is aborted.
//
// Two lines, FIFO each. An interactive charge (authorize: an order placement holds its customer's request open) is
// served before a background one (capture, void: a job's, retried by Ordering; nobody waits on the answer), except
// that while both lines wait every BackgroundShare-th slot goes to the background line, so captures keep moving under
// any load. With one line, the captures deferred while Payment was degraded took the slots in arrival order once it
// was back, and the placements behind them waited past the door's patience: the retry-storm drill's contain read
// 315 of 350 in the SLO right after capacity came back, 27 shed at the door (CI rehearsal of 8d291f3, 2026-12-07 13:35 UTC).
// Doc: docs/failure-modes/retry-storm.md, docs/failure-modes/timeouts-cascade.md
namespace ReliableShop.Payment.Capacity;

/// <summary>Whose charge it is: a customer's, waiting on it (interactive), or a job's (background).</summary>
public enum ChargePriority { Interactive, Background }

public sealed class SlotLimiter(int slots)
{
    /// <summary>While both lines wait, one slot in this many goes to the background line.</summary>
    public const int BackgroundShare = 4;

    private readonly Lock gate = new();
    private readonly LinkedList<TaskCompletionSource> interactive = new(), background = new();
    private int limit = slots;
    private int inUse;
    private int backgroundPassedOver;

    public int Limit { get { lock (gate) { return limit; } } }

    public int InUse { get { lock (gate) { return inUse; } } }

    public int Queued { get { lock (gate) { return interactive.Count + background.Count; } } }

    /// <summary>Completes when the caller holds a slot; the caller must call <see cref="Release"/> exactly once.</summary>
    public Task WaitAsync(CancellationToken ct) => WaitAsync(ChargePriority.Interactive, ct);

    /// <inheritdoc cref="WaitAsync(CancellationToken)"/>
    public Task WaitAsync(ChargePriority priority, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        LinkedListNode<TaskCompletionSource> node;
        lock (gate)
        {
            if (inUse < limit && interactive.Count == 0 && background.Count == 0)
            {
                inUse++;
                return Task.CompletedTask;
            }
            var line = priority == ChargePriority.Interactive ? interactive : background;
            node = line.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
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
            if (node.List is not { } line)
            {
                return; // already granted a slot: the caller owns it and releases it
            }
            line.Remove(node);
        }
        node.Value.TrySetCanceled(ct);
    }

    private void GrantToWaiters()
    {
        while (inUse < limit && Next() is { } next)
        {
            next.List!.Remove(next);
            inUse++;
            next.Value.TrySetResult();
        }
    }

    // The head of the interactive line, unless the background line has waited through BackgroundShare - 1 grants.
    private LinkedListNode<TaskCompletionSource>? Next()
    {
        if (interactive.First is { } customer && (background.First is null || backgroundPassedOver < BackgroundShare - 1))
        {
            if (background.First is not null) backgroundPassedOver++;
            return customer;
        }
        backgroundPassedOver = 0;
        return background.First;
    }
}
