// Guarantee: queue health is exported under Meter "ReliableShop.Jobs" — depth, running, dead, oldest age, and outcomes.
// Failure handled: a stuck or dead-lettering queue shows on a dashboard before anyone asks where their email went.
// Doc: docs/failure-modes/skip-locked-queue.md
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace ReliableShop.Jobs;

internal sealed class JobsMetrics
{
    public const string MeterName = JobsExtensions.MeterName;

    private readonly Counter<long> succeeded;
    private readonly Counter<long> failed;
    private readonly Counter<long> dead;
    private readonly Counter<long> reaped;
    private readonly Counter<long> crashed;
    private readonly Histogram<double> claimDuration;
    private long crashedTotal;

    public JobsMetrics(IMeterFactory meters, JobsAdmin admin, TimeProvider time, ILogger<JobsMetrics> logger)
    {
        var meter = meters.Create(MeterName);
        var stats = new JobStatsCache(admin.GetStatsAsync, time, logger);
        meter.CreateObservableGauge("reliableshop.jobs.depth", () => stats.Latest.Queued, "{job}", "Jobs in state 'queued'.");
        meter.CreateObservableGauge("reliableshop.jobs.running", () => stats.Latest.Running, "{job}", "Jobs in state 'running'.");
        meter.CreateObservableGauge("reliableshop.jobs.dead", () => stats.Latest.Dead, "{job}", "Jobs in state 'dead'.");
        meter.CreateObservableGauge("reliableshop.jobs.oldest_queued_age", () => stats.Latest.OldestQueuedAgeSeconds, "s",
            "How long the oldest runnable job has waited past its run_at.");
        succeeded = meter.CreateCounter<long>("reliableshop.jobs.succeeded", "{job}", "Jobs completed by their handler.");
        failed = meter.CreateCounter<long>("reliableshop.jobs.failed", "{attempt}", "Handler attempts that threw or ran out of lease.");
        dead = meter.CreateCounter<long>("reliableshop.jobs.dead_lettered", "{job}", "Jobs moved to 'dead'.");
        reaped = meter.CreateCounter<long>("reliableshop.jobs.reaped", "{job}", "Running jobs whose lease expired (crashed worker).");
        crashed = meter.CreateCounter<long>("reliableshop.jobs.simulated_crashes", "{job}",
            "Claims abandoned by a simulated worker crash (skip-locked-queue drill).");
        claimDuration = meter.CreateHistogram<double>("reliableshop.jobs.claim.duration", "ms", "Time one claim statement took.");
    }

    public void Succeeded(string kind) => succeeded.Add(1, new KeyValuePair<string, object?>("job.kind", kind));

    public void Failed(string kind) => failed.Add(1, new KeyValuePair<string, object?>("job.kind", kind));

    public void Dead(string kind) => dead.Add(1, new KeyValuePair<string, object?>("job.kind", kind));

    public void Reaped(long count) => reaped.Add(count);

    public void Crashed()
    {
        crashed.Add(1);
        Interlocked.Increment(ref crashedTotal);
    }

    /// <summary>Simulated crashes since start (drill stats).</summary>
    public long CrashedTotal => Interlocked.Read(ref crashedTotal);

    public void ClaimDuration(TimeSpan elapsed) => claimDuration.Record(elapsed.TotalMilliseconds);
}
