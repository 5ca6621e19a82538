// An open-loop load generator (what k6's constant-arrival-rate / ramping-arrival-rate executors do): requests start at
// their scheduled times whether or not earlier ones finished, and latency is measured from the INTENDED send time, so
// queueing in the system under test shows up as latency instead of silently lowering the offered rate (coordinated
// omission). A request that cannot start because MaxInFlight are already running is counted as dropped — like k6's
// dropped_iterations, a drill requires it to be 0.
using System.Diagnostics;
using HdrHistogram;

namespace ReliableShop.SystemTests.Drills;

/// <summary>One stage of offered load: the rate ramps linearly from <see cref="FromRps"/> to <see cref="ToRps"/>.</summary>
public sealed record LoadStage(TimeSpan Duration, double FromRps, double ToRps)
{
    public static LoadStage Constant(double rps, TimeSpan duration) => new(duration, rps, rps);
}

public enum Outcome { Success, Rejected, Error }

public sealed record LoadOptions(IReadOnlyList<LoadStage> Stages, TimeSpan Slo, int MaxInFlight = 2000, TimeSpan? RequestTimeout = null);

public static class OpenLoopLoad
{
    /// <summary>Runs <paramref name="send"/> at the offered rate; waits (bounded by RequestTimeout) for the stragglers.</summary>
    public static async Task<LoadReport> RunAsync(string name, LoadOptions options, Func<int, CancellationToken, Task<Outcome>> send, CancellationToken ct)
    {
        var schedule = Schedule(options.Stages);
        var recorder = new LoadRecorder(name, options.Slo);
        var inFlight = 0;
        var running = new List<Task>(schedule.Count);
        var clock = Stopwatch.StartNew();
        recorder.Started(TimeProvider.System.GetUtcNow());
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        for (var i = 0; i < schedule.Count; i++)
        {
            var wait = schedule[i] - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, ct); // pacing to the schedule, not a wait for a condition
            if (Interlocked.Increment(ref inFlight) > options.MaxInFlight)
            {
                Interlocked.Decrement(ref inFlight);
                recorder.Dropped();
                continue;
            }
            var intended = schedule[i];
            var index = i;
            running.Add(Task.Run(async () =>
            {
                Outcome outcome;
                try { outcome = await send(index, timeout.Token); }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or TaskCanceledException) { outcome = Outcome.Error; }
                recorder.Record(clock.Elapsed - intended, outcome, intended);
                Interlocked.Decrement(ref inFlight);
            }, CancellationToken.None));
        }
        var sendingEnded = clock.Elapsed;
        timeout.CancelAfter(options.RequestTimeout ?? TimeSpan.FromSeconds(30));
        await Task.WhenAll(running);
        return recorder.Report(sendingEnded);
    }

    /// <summary>Intended start times: for a stage ramping r0 → r1 over T, the n-th request is where ∫rate dt = n.</summary>
    public static List<TimeSpan> Schedule(IReadOnlyList<LoadStage> stages)
    {
        var times = new List<TimeSpan>();
        double offset = 0, before = 0; // seconds elapsed, requests due before the current stage
        long next = 1;
        foreach (var stage in stages)
        {
            var t = stage.Duration.TotalSeconds;
            var slope = (stage.ToRps - stage.FromRps) / t;
            var due = stage.FromRps * t + slope * t * t / 2;
            for (; next <= before + due; next++)
            {
                var n = next - before; // solve FromRps·x + slope·x²/2 = n for x
                var x = Math.Abs(slope) < 1e-9
                    ? n / stage.FromRps
                    : (-stage.FromRps + Math.Sqrt(stage.FromRps * stage.FromRps + 2 * slope * n)) / slope;
                times.Add(TimeSpan.FromSeconds(offset + x));
            }
            before += due;
            offset += t;
        }
        return times;
    }
}

public sealed class LoadRecorder(string name, TimeSpan slo)
{
    private const int SlowestKept = 5;
    private readonly List<SlowRequest> slowest = new(SlowestKept + 1);
    private DateTimeOffset startedAt;
    private readonly LongHistogram latencyMicros = new(TimeSpan.FromMinutes(5).Ticks / 10, 3);
    private readonly LongHistogram successMicros = new(TimeSpan.FromMinutes(5).Ticks / 10, 3);
    private readonly LongHistogram rejectedMicros = new(TimeSpan.FromMinutes(5).Ticks / 10, 3);
    private readonly object gate = new();
    private long success, withinSlo, rejected, errors, dropped;

    public void Dropped() => Interlocked.Increment(ref dropped);

    /// <summary>The wall-clock time of the schedule's zero, so the slowest requests can be matched with service logs.</summary>
    public void Started(DateTimeOffset at) => startedAt = at;

    public void Record(TimeSpan latency, Outcome outcome, TimeSpan intendedStart)
    {
        lock (gate)
        {
            if (slowest.Count < SlowestKept || latency > slowest[^1].Latency)
            {
                slowest.Add(new(startedAt + intendedStart, latency, outcome));
                slowest.Sort((a, b) => b.Latency.CompareTo(a.Latency));
                if (slowest.Count > SlowestKept) slowest.RemoveAt(SlowestKept);
            }
            var micros = Math.Max(1, (long)latency.TotalMicroseconds);
            latencyMicros.RecordValue(micros);
            switch (outcome)
            {
                case Outcome.Success: success++; successMicros.RecordValue(micros); if (latency <= slo) withinSlo++; break;
                case Outcome.Rejected: rejected++; rejectedMicros.RecordValue(micros); break;
                default: errors++; break;
            }
        }
    }

    public LoadReport Report(TimeSpan sendingDuration)
    {
        lock (gate)
        {
            double Ms(double percentile) => P(latencyMicros, percentile);
            static double P(LongHistogram h, double percentile) => h.TotalCount == 0 ? 0 : h.GetValueAtPercentile(percentile) / 1000.0;
            var seconds = sendingDuration.TotalSeconds;
            var sent = latencyMicros.TotalCount;
            return new(name, sent, success, withinSlo, rejected, errors, Interlocked.Read(ref dropped),
                sent / seconds, withinSlo / seconds, Ms(50), Ms(90), Ms(99), latencyMicros.GetMaxValue() / 1000.0)
            {
                SuccessP99Ms = P(successMicros, 99),
                RejectedP99Ms = P(rejectedMicros, 99),
                Slowest = [.. slowest],
            };
        }
    }
}

public sealed record LoadReport(
    string Name, long Sent, long Succeeded, long WithinSlo, long Rejected, long Errors, long Dropped,
    double AchievedRps, double GoodputRps, double P50Ms, double P90Ms, double P99Ms, double MaxMs)
{
    /// <summary>p99 of successful responses only, and of rejections (429/503 sheds) only.</summary>
    public double SuccessP99Ms { get; init; }
    public double RejectedP99Ms { get; init; }
    /// <summary>The slowest few requests, slowest first, with the wall-clock time each was due to start.</summary>
    public IReadOnlyList<SlowRequest> Slowest { get; init; } = [];

    /// <summary>" slowest: 04:07:14.310 1154 ms success, …" — to find a tail's requests in the services' logs.</summary>
    public string SlowestLine => " slowest: " + string.Join(", ", Slowest.Select(s => s.ToString()));

    public static string Header => $"{"phase",-22} {"sent",7} {"ok",7} {"in SLO",7} {"rej",6} {"err",6} {"drop",5} {"rps",8} {"goodput",8} {"p50 ms",8} {"p90 ms",8} {"p99 ms",8} {"max ms",8} {"ok p99",8} {"rej p99",8}";

    public override string ToString() =>
        $"{Name,-22} {Sent,7} {Succeeded,7} {WithinSlo,7} {Rejected,6} {Errors,6} {Dropped,5} {AchievedRps,8:0.0} {GoodputRps,8:0.0} {P50Ms,8:0.0} {P90Ms,8:0.0} {P99Ms,8:0.0} {MaxMs,8:0.0} {SuccessP99Ms,8:0.0} {RejectedP99Ms,8:0.0}";
}

public sealed record SlowRequest(DateTimeOffset DueAt, TimeSpan Latency, Outcome Outcome)
{
    public override string ToString() => $"{DueAt.UtcDateTime:HH:mm:ss.fff} {Latency.TotalMilliseconds:0} ms {Outcome.ToString().ToLowerInvariant()}";
}
