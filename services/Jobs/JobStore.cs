// Guarantee: a job is claimed by one worker at a time (SKIP LOCKED), and only that claimant (locked_by = its token,
// still 'running') can record the outcome. Failure handled: a stale worker whose lease was reaped changes nothing.
// Doc: docs/failure-modes/skip-locked-queue.md
using Npgsql;

namespace ReliableShop.Jobs;

internal sealed record ClaimedJob(long Id, string Kind, string Payload, int Attempt, int? MaxAttempts, Guid Token)
{
    public JobContext Context => new(Id, Kind, Payload, Attempt);
}

internal sealed class JobStore(NpgsqlDataSource dataSource)
{
    // One short auto-commit statement: runnable rows of our kinds, oldest first; rows another worker is claiming are skipped.
    private const string ClaimSql = """
        UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = @token, locked_until = now() + @lease
        WHERE id IN (SELECT id FROM jobs
                     WHERE state = 'queued' AND run_at <= now() AND kind = ANY(@kinds)
                     ORDER BY run_at, id
                     LIMIT @n
                     FOR UPDATE SKIP LOCKED)
        RETURNING id, kind, payload::text, attempt, max_attempts
        """;

    // Fenced by the claim token: many completions per statement, each applied only if its claim is still current.
    private const string SucceedSql = """
        UPDATE jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL, locked_until = NULL
        FROM unnest(@ids, @tokens) AS done(id, token)
        WHERE jobs.id = done.id AND jobs.locked_by = done.token AND jobs.state = 'running'
        RETURNING jobs.id
        """;

    // Fenced: retry later; the attempt stays counted.
    private const string RetrySql = """
        UPDATE jobs SET state = 'queued', run_at = now() + @delay, last_error = @error, locked_by = NULL, locked_until = NULL
        WHERE id = @id AND locked_by = @token AND state = 'running'
        """;

    // Fenced: no more attempts (budget spent or PermanentJobFailureException).
    private const string DeadSql = """
        UPDATE jobs SET state = 'dead', finished_at = now(), last_error = @error, locked_by = NULL, locked_until = NULL
        WHERE id = @id AND locked_by = @token AND state = 'running'
        """;

    // Fenced: interrupted by shutdown, not failed — runnable now, and the attempt is given back.
    private const string ReleaseSql = """
        UPDATE jobs SET state = 'queued', attempt = attempt - 1, run_at = now(), locked_by = NULL, locked_until = NULL
        WHERE id = @id AND locked_by = @token AND state = 'running'
        """;

    public async Task<List<ClaimedJob>> ClaimAsync(string[] kinds, int n, TimeSpan lease, CancellationToken ct)
    {
        var token = Guid.NewGuid();
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.AddWithValue("token", token);
        command.Parameters.AddWithValue("lease", lease);
        command.Parameters.AddWithValue("kinds", kinds);
        command.Parameters.AddWithValue("n", n);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var jobs = new List<ClaimedJob>(n);
        while (await reader.ReadAsync(ct))
        {
            jobs.Add(new ClaimedJob(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), token));
        }
        return jobs;
    }

    /// <returns>The ids actually completed; a missing id was reaped (lease expired) and belongs to another claim now.</returns>
    public async Task<HashSet<long>> SucceedAsync(IReadOnlyCollection<ClaimedJob> jobs, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(SucceedSql);
        command.Parameters.AddWithValue("ids", jobs.Select(j => j.Id).ToArray());
        command.Parameters.AddWithValue("tokens", jobs.Select(j => j.Token).ToArray());
        await using var reader = await command.ExecuteReaderAsync(ct);
        var done = new HashSet<long>();
        while (await reader.ReadAsync(ct))
        {
            done.Add(reader.GetInt64(0));
        }
        return done;
    }

    public Task<bool> RetryAsync(ClaimedJob job, TimeSpan delay, string error, CancellationToken ct) =>
        ExecuteFencedAsync(RetrySql, job, ct, ("delay", delay), ("error", error));

    public Task<bool> DeadAsync(ClaimedJob job, string error, CancellationToken ct) =>
        ExecuteFencedAsync(DeadSql, job, ct, ("error", error));

    public Task<bool> ReleaseAsync(ClaimedJob job, CancellationToken ct) => ExecuteFencedAsync(ReleaseSql, job, ct);

    private async Task<bool> ExecuteFencedAsync(string sql, ClaimedJob job, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("id", job.Id);
        command.Parameters.AddWithValue("token", job.Token);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }
}
