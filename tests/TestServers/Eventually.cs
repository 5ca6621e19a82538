// Waiting for a condition, never sleeping for a guess: polls until the condition holds or the timeout passes,
// then fails with the last observed value. The poll interval starts at 50 ms and doubles up to 1 s, so a long wait
// (orders settling after a drill) does not load the system it waits for with a probe 20 times a second.
namespace ReliableShop.TestServers;

public static class Eventually
{
    private static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(50), MaxPoll = TimeSpan.FromSeconds(1);

    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        var poll = FirstPoll;
        T last;
        while (true)
        {
            last = await probe();
            if (condition(last)) return last;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not reached within {timeout.TotalSeconds:0.#} s; last value: {last}");
            await Task.Delay(poll);
            poll = TimeSpan.FromTicks(Math.Min(MaxPoll.Ticks, poll.Ticks * 2));
        }
    }
}
