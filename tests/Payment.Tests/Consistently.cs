// The dual of Eventually: a condition that must keep holding for a bounded window (e.g. an abandoned charge keeps its
// slot). Polls for the whole window and fails at the first observation that breaks it; never a bare sleep.
namespace ReliableShop.Payment.Tests;

public static class Consistently
{
    public static async Task HoldsAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan window, string what)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        do
        {
            var observed = await probe();
            Assert.True(condition(observed), $"{what}: broke after {watch.ElapsedMilliseconds} ms; observed {observed}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        while (watch.Elapsed < window);
    }
}
