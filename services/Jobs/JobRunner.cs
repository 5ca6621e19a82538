// Guarantee: one claimed job → one handler call (no transaction open) → exactly one fenced outcome: succeeded, retry,
// dead or released. Failure handled: a handler that overruns its lease is cancelled, because the reaper may re-run it.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ReliableShop.Jobs;

internal sealed class JobRunner(
    JobStore store, JobHandlerRegistry registry, JobsMetrics metrics, IServiceScopeFactory scopes,
    IOptions<JobsOptions> options, TimeProvider time, ILogger<JobRunner> logger)
{
    private const int MaxErrorLength = 4000;
    private readonly JobsOptions settings = options.Value;

    /// <param name="leaseLeft">Time until the database lease ends; the handler is cancelled then (at once if already past).</param>
    public async Task RunAsync(ClaimedJob job, TimeSpan leaseLeft, JobCompleter completer, CancellationToken stoppingToken)
    {
        using var lease = new CancellationTokenSource(leaseLeft > TimeSpan.Zero ? leaseLeft : TimeSpan.Zero, time);
        using var handlerToken = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lease.Token);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await registry.Create(job.Kind, scope.ServiceProvider).HandleAsync(job.Context, handlerToken.Token);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown is not the job's fault: give the attempt back and let another replica (or our restart) run it.
            await store.ReleaseAsync(job, CancellationToken.None);
            return;
        }
        catch (Exception e)
        {
            await FailAsync(job, e);
            return;
        }
        if (await completer.SucceedAsync(job))
        {
            metrics.Succeeded(job.Kind);
        }
        else
        {
            logger.LogWarning("Job {JobId} ({Kind}) finished after its lease was reaped; it runs again (at-least-once)", job.Id, job.Kind);
        }
    }

    private async Task FailAsync(ClaimedJob job, Exception error)
    {
        metrics.Failed(job.Kind);
        var text = error.ToString();
        text = text.Length > MaxErrorLength ? text[..MaxErrorLength] : text;
        var budget = job.MaxAttempts ?? settings.MaxAttempts;
        if (error is PermanentJobFailureException || job.Attempt >= budget)
        {
            if (await store.DeadAsync(job, text, CancellationToken.None))
            {
                metrics.Dead(job.Kind);
                logger.LogError(error, "Job {JobId} ({Kind}) is dead after attempt {Attempt}/{Budget}", job.Id, job.Kind, job.Attempt, budget);
            }
            return;
        }
        var backoff = RetryBackoff.Delay(job.Attempt, settings, Random.Shared);
        var delay = RetryBackoff.NotBefore(backoff, (error as IRetryAfterHint)?.RetryAfter, Random.Shared);
        if (await store.RetryAsync(job, delay, text, CancellationToken.None))
        {
            // The message only: an outage fails every job at once, and a stack trace each is megabytes of log and CPU. The
            // whole exception is in the job's last_error (and in the log once the job is dead).
            logger.LogWarning("Job {JobId} ({Kind}) failed attempt {Attempt}/{Budget}: {Error}; retry in {Delay}",
                job.Id, job.Kind, job.Attempt, budget, error.Message, delay);
        }
    }
}
