// The harness's own load generators. Open loop (constant arrival rate): request i is due at start + i / rate and its
// latency counts from that intended time, so queueing in front of the server is not hidden (no coordinated omission).
// Closed loop (N callers back to back) only where a throughput ceiling is the question (B5, B6, B10).
using System.Diagnostics;
using HdrHistogram;

namespace ReliableShop.Benchmarks;

internal sealed record LoadResult(long Sent, long Ok, long OkWithinSlo, long Failed, double Seconds, double P50Ms, double P99Ms)
{
    public double Throughput => Ok / Seconds;
    public double Goodput => OkWithinSlo / Seconds;
}

internal static class LoadGenerator
{
    public static readonly TimeSpan Slo = TimeSpan.FromSeconds(1);

    /// <param name="call">Returns true for a success (2xx).</param>
    public static async Task<LoadResult> OpenLoopAsync(double rate, TimeSpan duration, Func<CancellationToken, Task<bool>> call, TimeSpan timeout)
    {
        var histogram = new LongConcurrentHistogram(1, 600_000_000, 3);
        long ok = 0, okSlo = 0, failed = 0;
        var total = (long)(rate * duration.TotalSeconds);
        var inFlight = new List<Task>((int)Math.Min(total, 1_000_000));
        var start = Stopwatch.GetTimestamp();
        for (long i = 0; i < total; i++)
        {
            var intended = start + (long)(i * Stopwatch.Frequency / rate);
            while (Stopwatch.GetTimestamp() < intended)
            {
                var ahead = (intended - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                if (ahead > 2) await Task.Delay((int)ahead - 1); else Thread.SpinWait(50);
            }
            inFlight.Add(Task.Run(async () =>
            {
                using var cts = new CancellationTokenSource(timeout);
                bool success;
                try
                {
                    success = await call(cts.Token);
                }
                catch (Exception)
                {
                    success = false;
                }
                var micros = Math.Max(1, (Stopwatch.GetTimestamp() - intended) * 1_000_000 / Stopwatch.Frequency);
                histogram.RecordValue(Math.Min(micros, 600_000_000));
                if (!success) { Interlocked.Increment(ref failed); return; }
                Interlocked.Increment(ref ok);
                if (micros <= Slo.TotalMicroseconds) Interlocked.Increment(ref okSlo);
            }));
        }
        await Task.WhenAll(inFlight);
        return new(total, ok, okSlo, failed, duration.TotalSeconds,
            histogram.GetValueAtPercentile(50) / 1000.0, histogram.GetValueAtPercentile(99) / 1000.0);
    }

    public static async Task<LoadResult> ClosedLoopAsync(int callers, TimeSpan duration, Func<CancellationToken, Task<bool>> call)
    {
        var histogram = new LongConcurrentHistogram(1, 600_000_000, 3);
        long ok = 0, failed = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var sent = Stopwatch.GetTimestamp();
                bool success;
                try
                {
                    success = await call(CancellationToken.None);
                }
                catch (Exception)
                {
                    success = false;
                }
                histogram.RecordValue(Math.Max(1, (Stopwatch.GetTimestamp() - sent) * 1_000_000 / Stopwatch.Frequency));
                Interlocked.Increment(ref success ? ref ok : ref failed);
            }
        })));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new(ok + failed, ok, ok, failed, seconds, histogram.GetValueAtPercentile(50) / 1000.0, histogram.GetValueAtPercentile(99) / 1000.0);
    }
}
