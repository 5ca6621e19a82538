// Backoff, pure: fixed and seeded randomness, no clock, no sleeping.

namespace ReliableShop.Outbox.Tests;

public sealed class BackoffTests
{
    private static readonly TimeSpan Base = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(1, 200)]
    [InlineData(2, 400)]
    [InlineData(5, 3200)]
    [InlineData(8, 25_600)]
    [InlineData(9, 30_000)]        // 51,200 capped
    [InlineData(10_000, 30_000)]   // no overflow
    public void Next_Attempt_DoublesUntilCappedWithinUpperHalf(int attempt, double ceilingMs)
    {
        Assert.Equal(ceilingMs / 2, Backoff.Next(attempt, Base, Max, new FixedRandom(0.0)).TotalMilliseconds, 3);
        Assert.Equal(ceilingMs, Backoff.Next(attempt, Base, Max, new FixedRandom(1.0)).TotalMilliseconds, 3);
    }

    [Fact]
    public void Next_SeededRandom_SpreadsDelaysAndIsReproducible()
    {
        var random = new Random(42);
        var delays = Enumerable.Range(0, 1000).Select(_ => Backoff.Next(3, Base, Max, random).TotalMilliseconds).ToList();
        var again = new Random(42);

        Assert.All(delays, d => Assert.InRange(d, 400, 800));
        Assert.True(delays.Distinct().Count() > 900, "jitter spreads retries of a shared outage");
        Assert.Equal(delays[0], Backoff.Next(3, Base, Max, again).TotalMilliseconds);
    }

    [Fact]
    public void Next_AttemptZeroOrBaseAboveMax_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Next(0, Base, Max, new Random(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Next(1, Max, Base, new Random(1)));
    }

    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }
}
