// Waiting for a condition, never sleeping for a guess: polls until the condition holds or the timeout passes,
// then fails with the last observed value.
namespace ReliableShop.TestServers;

public static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T last;
        while (true)
        {
            last = await probe();
            if (condition(last)) return last;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not reached within {timeout.TotalSeconds:0.#} s; last value: {last}");
            await Task.Delay(50);
        }
    }
}
