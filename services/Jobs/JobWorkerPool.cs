// Guarantee: at most JobWorkers.Limit handlers run at once (changeable at runtime), at most Jobs:KindConcurrency of a
// limited kind, at most Jobs:KindRatePerSecond of a paced kind started per second; each claimed job runs outside any
// transaction, and only its claimant records the outcome.
// Failure handled: handler errors retry with backoff, then 'dead'; shutdown releases jobs; a worker that dies after its
// claim is covered by the lease + reaper.
// The naive claim strategies of the skip-locked-queue drill (IJobQueueFaults) run in RunNaiveAsync, side by side (they
// ignore KindConcurrency and KindRatePerSecond: they are the code before any of this).
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ReliableShop.Jobs;

internal sealed class JobWorkerPool(
    JobStore store, JobHandlerRegistry registry, JobWakeup wakeup, JobRunner runner, JobWorkers workers,
    IJobQueueFaults faults, JobsMetrics metrics, IServiceScopeFactory scopes,
    IOptions<JobsOptions> options, TimeProvider time, ILogger<JobWorkerPool> logger) : BackgroundService
{
    private readonly JobsOptions settings = options.Value;

    // Jobs of each Jobs:KindConcurrency kind claimed and not finished (only the dispatcher adds, only Finished subtracts).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> running = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (registry.Kinds.Length == 0)
        {
            logger.LogInformation("No job handlers registered (AddJobHandler); this process claims no jobs");
            return;
        }
        var completer = new JobCompleter(store);
        var completing = completer.RunAsync();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var strategy = faults.ClaimStrategy;
                if (strategy == JobClaimStrategy.SkipLockedBatch)
                {
                    await DispatchAsync(completer, stoppingToken); // returns when the strategy changes
                }
                else
                {
                    logger.LogWarning("Job queue runs the NAIVE claim strategy {Strategy} (skip-locked-queue drill)", strategy);
                    await RunNaiveAsync(strategy, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        // Drain: every in-flight job has recorded its outcome (or been released) once no slot is taken.
        await workers.DrainAsync();
        completer.Stop();
        await completing;
    }

    // CONTAIN / production: one dispatcher claims a batch (SKIP LOCKED, leased) for exactly the free workers.
    private async Task DispatchAsync(JobCompleter completer, CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromMilliseconds(settings.PollIntervalMs);
        while (faults.ClaimStrategy == JobClaimStrategy.SkipLockedBatch)
        {
            // Claim only as many jobs as there are free workers, so every claimed job starts at once (its lease is
            // spent running, not waiting) and no more than the worker limit is ever in flight.
            var free = await workers.TakeAsync(settings.BatchSize, stoppingToken);
            var claimStarted = time.GetTimestamp(); // no later than the database's now() in the claim: the lease starts here
            var jobs = await TryClaimAsync(free);
            metrics.ClaimDuration(time.GetElapsedTime(claimStarted));
            if (jobs.Count < free)
            {
                workers.Release(free - jobs.Count);
            }
            foreach (var job in jobs)
            {
                if (faults.CrashAfterClaim(job.Id))
                {
                    // Simulated worker death: the claim is committed, the handler never runs, no outcome is written.
                    // The lease expires and the reaper re-queues the job (JobMaintenance).
                    metrics.Crashed();
                    Finished(job);
                    continue;
                }
                _ = Task.Run(() => RunAsync(job, claimStarted, completer, stoppingToken), CancellationToken.None);
            }
            if (jobs.Count < free)
            {
                await wakeup.WaitAsync(poll, time, stoppingToken); // queue drained: sleep until NOTIFY or the next poll
            }
        }
    }

    // Kinds without a Jobs:KindConcurrency limit or rate are claimed first, for every free worker; what is left goes to
    // each restricted kind, never past its limit nor its rate. A restricted kind's backlog therefore runs beside live
    // work, not instead of it. (A paced kind short of tokens waits for the next poll or NOTIFY: the rate is kept over
    // any second, not smoothed within one.)
    private async Task<List<ClaimedJob>> TryClaimAsync(int n)
    {
        if (registry.RestrictedKinds.Length == 0) return await TryClaimAsync(registry.Kinds, n);
        var jobs = registry.UnlimitedKinds.Length == 0 ? [] : await TryClaimAsync(registry.UnlimitedKinds, n);
        foreach (var kind in registry.RestrictedKinds)
        {
            var spare = n - jobs.Count;
            if (registry.Limits.TryGetValue(kind, out var limit)) spare = Math.Min(spare, limit - running.GetValueOrDefault(kind));
            var pace = registry.Paces.GetValueOrDefault(kind);
            if (pace is not null) spare = Math.Min(spare, pace.Available);
            if (spare <= 0) continue;
            var claimed = await TryClaimAsync([kind], spare);
            pace?.Take(claimed.Count);
            if (registry.Limits.ContainsKey(kind)) running.AddOrUpdate(kind, claimed.Count, (_, count) => count + claimed.Count);
            jobs.AddRange(claimed);
        }
        return jobs;
    }

    private async Task<List<ClaimedJob>> TryClaimAsync(string[] kinds, int n)
    {
        try
        {
            // Not cancelled by shutdown: a claim cancelled after the server committed it would strand its rows until
            // the reaper; one short statement is worth waiting for.
            return await store.ClaimAsync(kinds, n, TimeSpan.FromSeconds(settings.LeaseSeconds), CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Claiming jobs failed; retrying after the poll interval");
            return [];
        }
    }

    /// <summary>A job's worker is free again; a limited kind's slot too, and the dispatcher may claim one more of it.</summary>
    private void Finished(ClaimedJob job)
    {
        workers.Release();
        if (registry.Limits.ContainsKey(job.Kind))
        {
            running.AddOrUpdate(job.Kind, 0, (_, count) => count - 1);
            wakeup.Signal();
        }
    }

    private async Task RunAsync(ClaimedJob job, long claimStarted, JobCompleter completer, CancellationToken stoppingToken)
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
            Finished(job);
        }
    }

    // NAIVE (skip-locked-queue reproduce): N independent worker loops, each polling for ONE job with the naive strategy —
    // the way a queue table is usually first written. Runs until the strategy or the worker limit changes.
    private async Task RunNaiveAsync(JobClaimStrategy strategy, CancellationToken stoppingToken)
    {
        var count = workers.Limit;
        using var changed = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var loops = Enumerable.Range(0, count).Select(_ => Task.Run(() => NaiveLoopAsync(strategy, changed.Token), CancellationToken.None)).ToList();
        while (!stoppingToken.IsCancellationRequested && faults.ClaimStrategy == strategy && workers.Limit == count)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), time, stoppingToken); // checking the toggle, not waiting for work
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await changed.CancelAsync();
        await Task.WhenAll(loops);
    }

    private async Task NaiveLoopAsync(JobClaimStrategy strategy, CancellationToken ct)
    {
        var poll = TimeSpan.FromMilliseconds(settings.PollIntervalMs);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var started = time.GetTimestamp();
                var ran = strategy == JobClaimStrategy.SelectThenUpdate
                    ? await RunSelectThenUpdateOnceAsync(started, ct)
                    : await store.RunInsideClaimTransactionAsync(registry.Kinds, job =>
                    {
                        metrics.ClaimDuration(time.GetElapsedTime(started));
                        if (faults.CrashAfterClaim(job.Id))
                        {
                            metrics.Crashed();
                            throw new SimulatedCrashException();
                        }
                        return HandleNaivelyAsync(job, ct);
                    }, ct);
                if (!ran) await Task.Delay(poll, time, ct); // naive: no NOTIFY, just polling
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Naive job worker iteration failed");
            }
        }
    }

    private async Task<bool> RunSelectThenUpdateOnceAsync(long started, CancellationToken ct)
    {
        var job = await store.ClaimSelectThenUpdateAsync(registry.Kinds, ct);
        metrics.ClaimDuration(time.GetElapsedTime(started));
        if (job is null) return false;
        if (faults.CrashAfterClaim(job.Id))
        {
            metrics.Crashed(); // the row stays 'running' with no lease: nothing will ever re-run it
            return true;
        }
        await store.CompleteUnfencedAsync(job, await HandleNaivelyAsync(job, ct), CancellationToken.None);
        return true;
    }

    /// <returns>null on success, else the error text.</returns>
    private async Task<string?> HandleNaivelyAsync(ClaimedJob job, CancellationToken ct)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await registry.Create(job.Kind, scope.ServiceProvider).HandleAsync(job.Context, ct);
            metrics.Succeeded(job.Kind);
            return null;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            metrics.Failed(job.Kind);
            return e.Message;
        }
    }
}
