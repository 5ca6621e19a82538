// The slot limiter's queueing rules, without a host: FIFO, leaving the line on cancellation, resizing at runtime.
using ReliableShop.Payment.Capacity;

namespace ReliableShop.Payment.Tests;

public sealed class SlotLimiterTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task WaitAsync_AllSlotsTaken_QueuesUntilReleaseInFifoOrder()
    {
        var limiter = new SlotLimiter(1);
        await limiter.WaitAsync(ct);

        var first = limiter.WaitAsync(ct);
        var second = limiter.WaitAsync(ct);
        Assert.Equal((false, false, 2), (first.IsCompleted, second.IsCompleted, limiter.Queued));

        limiter.Release();
        await first.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.False(second.IsCompleted);
        Assert.Equal((1, 1), (limiter.InUse, limiter.Queued));
    }

    [Fact]
    public async Task WaitAsync_CancelledWhileQueued_LeavesTheLineAndFreesNoSlot()
    {
        var limiter = new SlotLimiter(1);
        await limiter.WaitAsync(ct);
        using var abort = new CancellationTokenSource();

        var waiting = limiter.WaitAsync(abort.Token);
        await abort.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal((1, 0), (limiter.InUse, limiter.Queued));
    }

    [Fact]
    public async Task Resize_Grow_GrantsQueuedWaitersAtOnce()
    {
        var limiter = new SlotLimiter(1);
        await limiter.WaitAsync(ct);
        var waiting = new[] { limiter.WaitAsync(ct), limiter.WaitAsync(ct) };

        limiter.Resize(3);

        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Equal((3, 0), (limiter.InUse, limiter.Queued));
    }

    [Fact]
    public async Task Resize_Shrink_NewCallersWaitUntilInUseDropsBelowTheNewLimit()
    {
        var limiter = new SlotLimiter(3);
        for (var i = 0; i < 3; i++) await limiter.WaitAsync(ct);

        limiter.Resize(1);
        var waiting = limiter.WaitAsync(ct);
        limiter.Release();
        limiter.Release();
        Assert.False(waiting.IsCompleted);
        limiter.Release();

        await waiting.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Equal(1, limiter.InUse);
    }
}
