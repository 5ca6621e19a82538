// Pure rules, no database and no sleeping: backoff schedule (seeded Random), poll/wake-up timing and the stats cache
// (FakeTimeProvider), and options validation that stops the host naming the bad values.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static ReliableShop.Jobs.Tests.JobsTestHost;

namespace ReliableShop.Jobs.Tests;

public sealed class JobsUnitTests
{
    private static readonly TimeSpan Base = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(1, 250, 500)]
    [InlineData(2, 500, 1000)]
    [InlineData(3, 1000, 2000)]
    [InlineData(8, 30_000, 60_000)] // 500 ms × 2^7 = 64 s, capped at 60 s
    [InlineData(30, 30_000, 60_000)]
    [InlineData(1000, 30_000, 60_000)]
    public void Backoff_Attempt_WithinHalfToFullOfCappedExponential(int attempt, double minMs, double maxMs)
    {
        var random = new Random(42);
        for (var i = 0; i < 1000; i++)
        {
            var delay = RetryBackoff.Delay(attempt, Base, Max, random).TotalMilliseconds;
            Assert.InRange(delay, minMs, maxMs);
        }
    }

    [Fact]
    public void Backoff_SameSeed_SameScheduleAndJitterSpreadsPeers()
    {
        var schedule = (int seed) => Enumerable.Range(1, 8).Select(a => RetryBackoff.Delay(a, Base, Max, new Random(seed))).ToArray();
        Assert.Equal(schedule(7), schedule(7));

        var random = new Random(7);
        var peers = Enumerable.Range(0, 100).Select(_ => RetryBackoff.Delay(5, Base, Max, random)).ToHashSet();
        Assert.True(peers.Count > 95, $"{peers.Count} distinct delays for 100 peers failing together");
    }

    [Theory]
    [InlineData(null, 400, 400, 400)]     // no hint: the backoff
    [InlineData(200, 400, 400, 400)]     // a hint shorter than the backoff changes nothing
    [InlineData(5000, 400, 5000, 7500)]  // a longer hint: never sooner, spread over up to half as long again
    public void NotBefore_Hint_NeverSoonerThanAskedAndSpread(int? hintMs, int backoffMs, double minMs, double maxMs)
    {
        var random = new Random(42);
        var hint = hintMs is { } h ? TimeSpan.FromMilliseconds(h) : (TimeSpan?)null;
        var delays = Enumerable.Range(0, 1000).Select(_ => RetryBackoff.NotBefore(TimeSpan.FromMilliseconds(backoffMs), hint, random).TotalMilliseconds).ToList();

        Assert.All(delays, d => Assert.InRange(d, minMs, maxMs));
        if (minMs < maxMs) Assert.True(delays.Distinct().Count() > 950, "peers failed by one outage come back spread out");
    }

    [Fact]
    public async Task Wakeup_NoSignal_ReturnsAfterPollIntervalOnly()
    {
        var time = new FakeTimeProvider();
        var wakeup = new JobWakeup();

        var waiting = wakeup.WaitAsync(TimeSpan.FromSeconds(1), time, Ct);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await waiting.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Wakeup_ManySignals_CollapseIntoOneWake()
    {
        var time = new FakeTimeProvider();
        var wakeup = new JobWakeup();
        wakeup.Signal();
        wakeup.Signal();
        wakeup.Signal();

        await wakeup.WaitAsync(TimeSpan.FromSeconds(30), time, Ct).WaitAsync(TimeSpan.FromSeconds(5), Ct); // no time passed
        var second = wakeup.WaitAsync(TimeSpan.FromSeconds(30), time, Ct);
        Assert.False(second.IsCompleted);
        wakeup.Signal();
        await second.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public void StatsCache_ReadOften_QueriesAtMostOncePerMaxAge()
    {
        var time = new FakeTimeProvider();
        var queries = 0;
        var cache = new JobStatsCache(_ => Task.FromResult(new JobQueueStats(++queries, 0, 0, 0)), time, NullLogger.Instance);

        var reads = Enumerable.Range(0, 50).Select(_ => cache.Latest.Queued).ToList();
        time.Advance(JobStatsCache.MaxAge - TimeSpan.FromMilliseconds(1));
        reads.Add(cache.Latest.Queued);
        Assert.Equal(1, queries);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, cache.Latest.Queued);
        Assert.Equal(2, queries);
    }

    [Theory]
    [InlineData("LeaseSeconds=1", "PollIntervalMs=5000", "Jobs:LeaseSeconds (1 s) must be longer than Jobs:PollIntervalMs (5000 ms)")]
    [InlineData("LeaseSeconds=10", "ReaperIntervalSeconds=20", "Jobs:ReaperIntervalSeconds (20) must not exceed Jobs:LeaseSeconds (10)")]
    [InlineData("RetryBaseDelayMs=1000", "RetryMaxDelayMs=10", "Jobs:RetryMaxDelayMs (10) must be at least Jobs:RetryBaseDelayMs (1000)")]
    [InlineData("Workers=0", "BatchSize=10", "Workers")]
    [InlineData("KindConcurrency:work=0", "BatchSize=10", "Jobs:KindConcurrency:work (0) must be between 1 and 256")]
    [InlineData("KindRatePerSecond:work=0", "BatchSize=10", "Jobs:KindRatePerSecond:work (0) must be between 0.1 and 10000")]
    public void Options_InvalidValues_ValidationNamesKeysAndValues(string first, string second, string message)
    {
        using var host = Build("Host=unused", "a", _ => { }, first, second);

        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<JobsOptions>>().Value);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Options_UnknownKey_Rejected()
    {
        using var host = Build("Host=unused", "a", _ => { }, "Wrokers=8");

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<IOptions<JobsOptions>>().Value);
        Assert.Contains("Wrokers", error.Message);
    }

    [Fact]
    public void AddJobHandler_SameKindTwice_RejectedAtStart()
    {
        using var host = Build("Host=unused", "a", s => s.AddJobHandler<RecordingHandler>("work").AddJobHandler<FailingHandler>("work"));

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<JobHandlerRegistry>());
        Assert.Contains("'work'", error.Message);
    }

    [Fact]
    public void KindConcurrency_KindWithoutHandler_RejectedAtStart()
    {
        using var host = Build("Host=unused", "a", s => s.AddJobHandler<RecordingHandler>("work"), "KindConcurrency:wrok=1");

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<JobHandlerRegistry>());
        Assert.Contains("Jobs:KindConcurrency:wrok", error.Message);
    }

    [Fact]
    public void KindRatePerSecond_KindWithoutHandler_RejectedAtStart()
    {
        using var host = Build("Host=unused", "a", s => s.AddJobHandler<RecordingHandler>("work"), "KindRatePerSecond:wrok=5");

        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<JobHandlerRegistry>());
        Assert.Contains("Jobs:KindRatePerSecond:wrok", error.Message);
    }

    [Fact]
    public void JobKindPace_FiveASecond_OneSecondOfBurstThenFiveForEverySecond()
    {
        var time = new FakeTimeProvider();
        var pace = new JobKindPace(5, time);

        Assert.Equal(5, pace.Available); // a full bucket: one second's worth
        pace.Take(5);
        Assert.Equal(0, pace.Available);
        time.Advance(TimeSpan.FromMilliseconds(399));
        Assert.Equal(1, pace.Available); // 1.995 tokens: one whole job
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, pace.Available);
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(5, pace.Available); // idle time does not bank more than one second's worth

        // 60 s of a greedy dispatcher polling every 100 ms starts at most 5 × 60 + the first second's 5.
        var started = 0;
        for (var i = 0; i < 600; i++)
        {
            var n = pace.Available;
            pace.Take(n);
            started += n;
            time.Advance(TimeSpan.FromMilliseconds(100));
        }
        Assert.InRange(started, 300, 305);
    }

    [Fact]
    public void JobKindPace_BelowOneASecond_StillStartsOneJobAtATime()
    {
        var time = new FakeTimeProvider();
        var pace = new JobKindPace(0.5, time);

        Assert.Equal(1, pace.Available);
        pace.Take(1);
        time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.Equal(0, pace.Available);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, pace.Available);
    }
}
