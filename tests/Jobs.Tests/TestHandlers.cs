// Handlers used by the tests; each records its runs in the executions table (the evidence every assertion reads).
using Npgsql;

namespace ReliableShop.Jobs.Tests;

internal sealed class RecordingHandler(NpgsqlDataSource db, Replica replica, ConcurrencyProbe? probe = null) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        using var running = probe?.Enter();
        await using var command = db.CreateCommand("INSERT INTO executions (job_id, attempt, replica) VALUES (@id, @attempt, @replica)");
        command.Parameters.AddWithValue("id", job.Id);
        command.Parameters.AddWithValue("attempt", job.Attempt);
        command.Parameters.AddWithValue("replica", replica.Name);
        await command.ExecuteNonQueryAsync(ct);
    }
}

internal sealed class FailingHandler(NpgsqlDataSource db, Replica replica) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        await new RecordingHandler(db, replica).HandleAsync(job, ct);
        throw new InvalidOperationException($"always fails (attempt {job.Attempt})");
    }
}

/// <summary>Fails like a call to a dependency whose breaker is open for another hour.</summary>
internal sealed class HintedFailureHandler(NpgsqlDataSource db, Replica replica) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        await new RecordingHandler(db, replica).HandleAsync(job, ct);
        throw new DependencyDownException(TimeSpan.FromHours(1));
    }

    private sealed class DependencyDownException(TimeSpan retryAfter) : Exception("dependency down"), IRetryAfterHint
    {
        public TimeSpan? RetryAfter { get; } = retryAfter;
    }
}

internal sealed class PermanentlyFailingHandler(NpgsqlDataSource db, Replica replica) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        await new RecordingHandler(db, replica).HandleAsync(job, ct);
        throw new PermanentJobFailureException("payload can never be processed");
    }
}

/// <summary>Records its start, then waits until cancelled (shutdown or lease end).</summary>
internal sealed class WaitForCancellationHandler(NpgsqlDataSource db, Replica replica) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        await new RecordingHandler(db, replica).HandleAsync(job, ct);
        await Task.Delay(Timeout.Infinite, ct);
    }
}

/// <summary>Simulated 50 ms of work, so a queue of these keeps every worker busy.</summary>
internal sealed class SlowHandler(NpgsqlDataSource db, Replica replica, ConcurrencyProbe probe) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        using var running = probe.Enter();
        await new RecordingHandler(db, replica).HandleAsync(job, ct);
        await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
    }
}

/// <summary>Records its start, then holds its worker until the test opens the <see cref="Gate"/>.</summary>
internal sealed class GatedHandler(NpgsqlDataSource db, Replica replica, Gate gate) : IJobHandler
{
    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        using var running = gate.Probe.Enter();
        await new RecordingHandler(db, replica).HandleAsync(job, ct);
        await gate.Opened.WaitAsync(ct);
    }
}

internal sealed class Gate
{
    private readonly TaskCompletionSource opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrencyProbe Probe { get; } = new();

    public Task Opened => opened.Task;

    public void Open() => opened.TrySetResult();
}
