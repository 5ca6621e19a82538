// Guarantee: at most Workers handlers run at once; each claimed job runs outside any transaction, and only its
// claimant records the outcome. Failure handled: handler errors retry with backoff, then 'dead'; shutdown releases jobs.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ReliableShop.Jobs;

internal sealed class JobWorkerPool(
    JobStore store, JobHandlerRegistry registry, JobWakeup wakeup, JobRunner runner,
    IOptions<JobsOptions> options, TimeProvider time, ILogger<JobWorkerPool> logger) : BackgroundService
{
    private readonly JobsOptions settings = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (registry.Kinds.Length == 0)
        {
            logger.LogInformation("No job handlers registered (AddJobHandler); this process claims no jobs");
            return;
        }
        var freeWorkers = new SemaphoreSlim(settings.Workers, settings.Workers);
        var completer = new JobCompleter(store);
        var completing = completer.RunAsync();
        try
        {
            await DispatchAsync(freeWorkers, completer, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // Drain: holding every worker slot means every in-flight job has recorded its outcome (or been released).
        for (var i = 0; i < settings.Workers; i++)
        {
            await freeWorkers.WaitAsync(CancellationToken.None);
        }
        completer.Stop();
        await completing;
    }

    private async Task DispatchAsync(SemaphoreSlim freeWorkers, JobCompleter completer, CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromMilliseconds(settings.PollIntervalMs);
        while (true)
        {
            // Claim only as many jobs as there are free workers, so every claimed job starts at once (its lease is
            // spent running, not waiting) and no more than Workers jobs are ever in flight.
            await freeWorkers.WaitAsync(stoppingToken);
            var free = 1;
            while (free < settings.BatchSize && freeWorkers.Wait(0))
            {
                free++;
            }
            var claimStarted = time.GetTimestamp(); // no later than the database's now() in the claim: the lease starts here
            var jobs = await TryClaimAsync(free);
            if (jobs.Count < free)
            {
                freeWorkers.Release(free - jobs.Count);
            }
            foreach (var job in jobs)
            {
                _ = Task.Run(() => RunAsync(job, claimStarted, freeWorkers, completer, stoppingToken), CancellationToken.None);
            }
            if (jobs.Count < free)
            {
                await wakeup.WaitAsync(poll, time, stoppingToken); // queue drained: sleep until NOTIFY or the next poll
            }
        }
    }

    private async Task<List<ClaimedJob>> TryClaimAsync(int n)
    {
        try
        {
            // Not cancelled by shutdown: a claim cancelled after the server committed it would strand its rows until
            // the reaper; one short statement is worth waiting for.
            return await store.ClaimAsync(registry.Kinds, n, TimeSpan.FromSeconds(settings.LeaseSeconds), CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Claiming jobs failed; retrying after the poll interval");
            return [];
        }
    }

    private async Task RunAsync(
        ClaimedJob job, long claimStarted, SemaphoreSlim freeWorkers, JobCompleter completer, CancellationToken stoppingToken)
    {
        try
        {
            var leaseLeft = TimeSpan.FromSeconds(settings.LeaseSeconds) - time.GetElapsedTime(claimStarted);
            await runner.RunAsync(job, leaseLeft, completer, stoppingToken);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId} ({Kind}): outcome not recorded; the reaper re-queues it after its lease", job.Id, job.Kind);
        }
        finally
        {
            freeWorkers.Release();
        }
    }
}
