// Guarantee: successes are written by one fenced UPDATE per batch, and a worker is freed only once its row is written.
// Failure handled: one round trip per completion; batching adds no latency (group commit, no timer).
// Doc: docs/failure-modes/skip-locked-queue.md
using System.Threading.Channels;

namespace ReliableShop.Jobs;

// Whatever queued up while the previous UPDATE ran goes into the next one: batches grow with load, by themselves.
internal sealed class JobCompleter(JobStore store)
{
    private const int MaxBatch = 100;

    private readonly Channel<(ClaimedJob Job, TaskCompletionSource<bool> Done)> pending =
        Channel.CreateUnbounded<(ClaimedJob, TaskCompletionSource<bool>)>(new UnboundedChannelOptions { SingleReader = true });

    /// <returns>false when the fence rejected it: the lease expired, the job was re-queued and will run again.</returns>
    public Task<bool> SucceedAsync(ClaimedJob job)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!pending.Writer.TryWrite((job, done)))
        {
            done.SetException(new InvalidOperationException("Job completer stopped."));
        }
        return done.Task;
    }

    /// <summary>Call after every worker has finished: flushes what is pending, then <see cref="RunAsync"/> returns.</summary>
    public void Stop() => pending.Writer.TryComplete();

    public async Task RunAsync()
    {
        var batch = new List<(ClaimedJob Job, TaskCompletionSource<bool> Done)>(MaxBatch);
        while (await pending.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && pending.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            await FlushAsync(batch);
        }
    }

    private async Task FlushAsync(List<(ClaimedJob Job, TaskCompletionSource<bool> Done)> batch)
    {
        try
        {
            // Not cancelled by shutdown: finished work is recorded even while the host stops.
            var completed = await store.SucceedAsync([.. batch.Select(b => b.Job)], CancellationToken.None);
            batch.ForEach(b => b.Done.SetResult(completed.Contains(b.Job.Id)));
        }
        catch (Exception e)
        {
            batch.ForEach(b => b.Done.SetException(e));
        }
    }
}
