// How long and how often each benchmark runs. Full: warm-up, then the median of 3 measured runs. Quick (--quick): one
// short run of everything, a smoke check that every row produces a number (it runs in the test suite, < 2 min).
namespace ReliableShop.Benchmarks;

internal sealed record BenchSettings(bool Quick)
{
    public int Runs => Quick ? 1 : 3;
    public TimeSpan Warmup => TimeSpan.FromSeconds(Quick ? 0.5 : 10);
    public TimeSpan Measure => TimeSpan.FromSeconds(Quick ? 1.5 : 8);
    public double Scale => Quick ? 0.1 : 1.0;

    public int Scaled(int full) => Math.Max(1, (int)(full * Scale));

    /// <summary>Median of <paramref name="values"/> (the middle one of 3; one value in quick mode).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }
}
