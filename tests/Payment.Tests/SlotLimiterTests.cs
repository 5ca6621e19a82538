// The slot limiter's queueing rules, without a host: FIFO within a line, a customer's charge before a job's with the
// jobs' share kept, leaving the line on cancellation, resizing at runtime.
using ReliableShop.Payment.Capacity;
using ReliableShop.TestServers;

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
    public async Task WaitAsync_BackgroundQueuedFirst_InteractiveGetsTheNextSlot()
    {
        var limiter = new SlotLimiter(1);
        await limiter.WaitAsync(ct);

        var capture = limiter.WaitAsync(ChargePriority.Background, ct);
        var authorize = limiter.WaitAsync(ChargePriority.Interactive, ct);
        limiter.Release();

        await authorize.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.False(capture.IsCompleted);
        limiter.Release();
        await capture.WaitAsync(TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task WaitAsync_BothLinesWaiting_EveryBackgroundShareThSlotGoesToTheBackgroundLine()
    {
        var limiter = new SlotLimiter(1);
        await limiter.WaitAsync(ct);
        var granted = new List<string>();
        var waiting = new List<Task>();
        void Queue(ChargePriority priority, string name) =>
            waiting.Add(limiter.WaitAsync(priority, ct).ContinueWith(_ => { lock (granted) granted.Add(name); }, ct,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        Queue(ChargePriority.Background, "b1");
        Queue(ChargePriority.Background, "b2");
        for (var i = 1; i <= 7; i++) Queue(ChargePriority.Interactive, $"i{i}");

        for (var i = 0; i < waiting.Count; i++)
        {
            limiter.Release();
            await Eventually.WaitAsync(() => Task.FromResult(granted.Count), n => n == i + 1, TimeSpan.FromSeconds(5), $"grant {i + 1}");
        }

        // SlotLimiter.BackgroundShare = 4: three customers, then a job, while both lines wait; then what is left.
        Assert.Equal(["i1", "i2", "i3", "b1", "i4", "i5", "i6", "b2", "i7"], granted);
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
