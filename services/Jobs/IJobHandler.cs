// Guarantee: a handler runs at least once per job, outside any transaction; make it idempotent (use job.Id as a key).
// Failure handled: throwing retries with backoff (never sooner than an IRetryAfterHint asks); PermanentJobFailureException
// goes straight to 'dead'.
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

/// <summary>
/// Implemented by a failure that knows when trying again can help — a dependency's Retry-After, an open breaker's
/// remaining break: the job's next attempt is not scheduled before it (spread over up to half as long again, so the
/// jobs failed by one outage do not all come back in the same instant).
/// </summary>
public interface IRetryAfterHint
{
    TimeSpan? RetryAfter { get; }
}
