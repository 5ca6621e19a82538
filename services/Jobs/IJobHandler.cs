// Guarantee: a handler runs at least once per job, outside any transaction; make it idempotent (use job.Id as a key).
// Failure handled: throwing retries with backoff; PermanentJobFailureException goes straight to 'dead'.
// Doc: docs/failure-modes/background-jobs.md
namespace ReliableShop.Jobs;

public interface IJobHandler
{
    /// <param name="ct">Cancelled at shutdown (job released, attempt given back) or when the lease runs out (attempt fails).</param>
    Task HandleAsync(JobContext job, CancellationToken ct);
}

/// <param name="Payload">The JSON given to EnqueueAsync, as stored in jsonb (key order and whitespace normalized).</param>
/// <param name="Attempt">1 on the first run; counts claims, including runs lost to a crashed worker.</param>
public sealed record JobContext(long Id, string Kind, string Payload, int Attempt);

/// <summary>Thrown by a handler when retrying cannot help (bad payload, rejected for good): the job goes to 'dead' now.</summary>
public sealed class PermanentJobFailureException : Exception
{
    public PermanentJobFailureException() { }

    public PermanentJobFailureException(string message) : base(message) { }

    public PermanentJobFailureException(string message, Exception innerException) : base(message, innerException) { }
}
