// Guarantee: a worker waits for new work at most PollIntervalMs, and usually only until the next NOTIFY.
// Failure handled: a lost notification (listener reconnecting, NOTIFY before LISTEN) costs one poll interval, not a lost job.
// Doc: docs/failure-modes/skip-locked-queue.md
using System.Threading.Channels;

namespace ReliableShop.Jobs;

internal sealed class JobWakeup
{
    // Capacity 1, extra signals dropped: many NOTIFYs while the pool is busy collapse into one extra claim.
    private readonly Channel<bool> signals =
        Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Signal() => signals.Writer.TryWrite(true);

    /// <summary>Returns when signalled or when <paramref name="timeout"/> (the poll interval) has passed.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        using var poll = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, poll.Token);
        try
        {
            await signals.Reader.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Poll interval elapsed without a notification: claim anyway (scheduled jobs, retries, missed NOTIFYs).
        }
    }
}
