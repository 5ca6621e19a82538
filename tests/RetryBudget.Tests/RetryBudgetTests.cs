// The retry budget's arithmetic on simulated time (FakeTimeProvider: no sleeping), through a real Polly pipeline.
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.Retry;

namespace ReliableShop.RetryBudget.Tests;

public sealed class RetryBudgetTests
{
    private static readonly TimeSpan Spacing = TimeSpan.FromMilliseconds(10); // 100 calls per simulated second

    [Fact]
    public async Task Pipeline_1000CallsAt100PercentFailure_AtMost1150Attempts()
    {
        var (attempts, successes) = await RunAsync(failureRate: 1.0, withBudget: true);

        Assert.Equal(0, successes);
        Assert.InRange(attempts, 1000, 1150); // 3 retries per call without the budget would be 4,000
    }

    [Fact]
    public async Task Pipeline_1000CallsAt100PercentFailureWithoutBudget_EveryCallRetriedThreeTimes()
    {
        var (attempts, _) = await RunAsync(failureRate: 1.0, withBudget: false);

        Assert.Equal(4000, attempts); // the amplification the budget exists to prevent
    }

    [Fact]
    public async Task Pipeline_Seeded5PercentFailure_AtLeast995PerMilleSucceed()
    {
        var (attempts, successes) = await RunAsync(failureRate: 0.05, withBudget: true);

        Assert.True(successes >= 995, $"{successes} of 1000 succeeded with {attempts} attempts");
    }

    [Fact]
    public void TryWithdrawRetry_DepositsOlderThanTheWindow_NoLongerCount()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(new RetryBudgetOptions { Percent = 10, MinRetriesPerSecond = 0, WindowSeconds = 10 }, time);
        for (var i = 0; i < 100; i++) budget.RecordRequest();

        Assert.Equal(10, Enumerable.Range(0, 20).Count(_ => budget.TryWithdrawRetry()));
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.False(budget.TryWithdrawRetry());
        Assert.Equal(new RetryBudgetStats(100, 10, 11), budget.Stats);
    }

    [Fact]
    public void TryWithdrawRetry_NoTraffic_FloorPerSecondStillAllowsRetries()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { MinRetriesPerSecond = 2, WindowSeconds = 5 }, new FakeTimeProvider());

        Assert.Equal(10, Enumerable.Range(0, 50).Count(_ => budget.TryWithdrawRetry())); // 2/s × 5 s
    }

    private static async Task<(int Attempts, int Successes)> RunAsync(double failureRate, bool withBudget)
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(new RetryBudgetOptions(), time);
        var retry = new RetryStrategyOptions<bool>
        {
            MaxRetryAttempts = 3,
            Delay = TimeSpan.Zero,
            ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result == false),
        };
        var pipeline = new ResiliencePipelineBuilder<bool> { TimeProvider = time }
            .AddRetry(withBudget ? retry.WithBudget(budget) : retry)
            .Build();
        var random = new Random(7);
        int attempts = 0, successes = 0;
        for (var call = 0; call < 1000; call++)
        {
            var ok = await pipeline.ExecuteAsync(_ =>
            {
                attempts++;
                return ValueTask.FromResult(random.NextDouble() >= failureRate);
            }, TestContext.Current.CancellationToken);
            if (ok) successes++;
            time.Advance(Spacing);
        }
        return (attempts, successes);
    }
}
