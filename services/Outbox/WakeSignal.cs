// A coalescing wake-up: any number of Set() calls between two waits wake the relay once (NOTIFY bursts cost one sweep).
// Doc: docs/failure-modes/outbox.md
using System.Threading.Channels;

namespace ReliableShop.Outbox;

internal sealed class WakeSignal
{
    private readonly Channel<bool> _channel =
        Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Set() => _channel.Writer.TryWrite(true);

    /// <summary>Returns true when woken by <see cref="Set"/>, false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken ct)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);
        try
        {
            await _channel.Reader.ReadAsync(linked.Token);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
