// The relay's wake-up: NOTIFY bursts coalesce into one sweep, and without NOTIFY the poll interval fires — on a
// FakeTimeProvider, so no test sleeps for 30 s.
using Microsoft.Extensions.Time.Testing;

namespace ReliableShop.Outbox.Tests;

public sealed class WakeSignalTests
{
    [Fact]
    public async Task WakeSignal_NoNotify_TimesOutAtPollIntervalOnFakeClock()
    {
        var time = new FakeTimeProvider();
        var wake = new WakeSignal();

        var waiting = wake.WaitAsync(TimeSpan.FromSeconds(30), time, TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(await waiting); // the polling fallback fired
    }

    [Fact]
    public async Task WakeSignal_ManySetsBeforeWait_WakesOnce()
    {
        var time = new FakeTimeProvider();
        var wake = new WakeSignal();
        wake.Set();
        wake.Set();
        wake.Set();

        Assert.True(await wake.WaitAsync(TimeSpan.FromSeconds(30), time, TestContext.Current.CancellationToken));
        var second = wake.WaitAsync(TimeSpan.FromSeconds(30), time, TestContext.Current.CancellationToken);
        Assert.False(second.IsCompleted); // the burst was coalesced into one sweep
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(await second);
    }
}
