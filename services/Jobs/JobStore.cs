// Guarantee: a job is claimed by one worker at a time (SKIP LOCKED), and only that claimant (locked_by = its token,
// still 'running') can record the outcome. Failure handled: a stale worker whose lease was reaped changes nothing.
// Doc: docs/failure-modes/skip-locked-queue.md
using Npgsql;

namespace ReliableShop.Jobs;

internal sealed record ClaimedJob(long Id, string Kind, string Payload, int Attempt, int? MaxAttempts, Guid Token)
{
    public JobContext Context => new(Id, Kind, Payload, Attempt);
}

/// <summary>Thrown inside a naive in-transaction run to simulate the worker process dying mid-job.</summary>
internal sealed class SimulatedCrashException : Exception
{
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

    // ---- NAIVE claim strategies (skip-locked-queue: reproduce). Never used with the mode off or in contain. ----

    // NAIVE select-then-update, step 1: a plain SELECT takes no lock, so every worker polling now reads the SAME oldest row.
    private const string NaiveSelectSql = """
        SELECT id FROM jobs
        WHERE state = 'queued' AND run_at <= now() AND kind = ANY(@kinds)
        ORDER BY run_at, id
        LIMIT 1
        """;

    // NAIVE select-then-update, step 2: updates by id without re-checking state = 'queued' — the second worker's UPDATE
    // succeeds too, and both run the job (duplicate execution). No lease (locked_until stays NULL): if the worker dies
    // the row stays 'running' forever, since the reaper only looks at expired leases.
    private const string NaiveUpdateSql = """
        UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = @token, locked_until = NULL
        WHERE id = @id
        RETURNING id, kind, payload::text, attempt, max_attempts
        """;

    // NAIVE completion: not fenced (any worker can overwrite any outcome) and failures retry at once, forever.
    private const string NaiveSucceedSql = """
        UPDATE jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL WHERE id = @id
        """;

    private const string NaiveFailSql = """
        UPDATE jobs SET state = 'queued', run_at = now(), last_error = @error, locked_by = NULL WHERE id = @id
        """;

    // NAIVE blocking claim: FOR UPDATE without SKIP LOCKED. Every worker asks for the same head row; all but one wait on
    // its row lock, and the lock is held while the handler runs (processing inside the claim transaction), so N workers
    // run one job at a time. The open transaction also pins the xmin horizon for as long as the handler takes.
    private const string BlockingClaimSql = """
        SELECT id, kind, payload::text, attempt + 1, max_attempts FROM jobs
        WHERE state = 'queued' AND run_at <= now() AND kind = ANY(@kinds)
        ORDER BY run_at, id
        LIMIT 1
        FOR UPDATE
        """;

    private const string BlockingMarkRunningSql = "UPDATE jobs SET state = 'running', attempt = attempt + 1 WHERE id = @id";

    /// <summary>NAIVE: select-then-update claim of one job (see NaiveSelectSql / NaiveUpdateSql); null when the queue is empty.</summary>
    public async Task<ClaimedJob?> ClaimSelectThenUpdateAsync(string[] kinds, CancellationToken ct)
    {
        await using var select = dataSource.CreateCommand(NaiveSelectSql);
        select.Parameters.AddWithValue("kinds", kinds);
        if (await select.ExecuteScalarAsync(ct) is not long id) return null;
        var token = Guid.NewGuid();
        await using var update = dataSource.CreateCommand(NaiveUpdateSql);
        update.Parameters.AddWithValue("token", token);
        update.Parameters.AddWithValue("id", id);
        await using var reader = await update.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? new ClaimedJob(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), token)
            : null;
    }

    /// <summary>NAIVE: records the outcome without a fence; error = null means success.</summary>
    public async Task CompleteUnfencedAsync(ClaimedJob job, string? error, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(error is null ? NaiveSucceedSql : NaiveFailSql);
        command.Parameters.AddWithValue("id", job.Id);
        if (error is not null) command.Parameters.AddWithValue("error", error);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>NAIVE: blocking claim and <paramref name="process"/> inside ONE transaction (see BlockingClaimSql).
    /// <paramref name="process"/> returns null on success, an error text on failure (immediate retry), or throws
    /// <see cref="SimulatedCrashException"/> to abandon the transaction like a dying process (rollback).</summary>
    /// <returns>False when no job was runnable.</returns>
    public async Task<bool> RunInsideClaimTransactionAsync(
        string[] kinds, Func<ClaimedJob, Task<string?>> process, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        ClaimedJob job;
        await using (var claim = new NpgsqlCommand(BlockingClaimSql, connection, transaction))
        {
            claim.Parameters.AddWithValue("kinds", kinds);
            await using var reader = await claim.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return false;
            job = new ClaimedJob(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), Guid.Empty);
        }
        await using (var running = new NpgsqlCommand(BlockingMarkRunningSql, connection, transaction))
        {
            running.Parameters.AddWithValue("id", job.Id);
            await running.ExecuteNonQueryAsync(ct);
        }
        string? error;
        try
        {
            error = await process(job); // the row lock is held all this time
        }
        catch (SimulatedCrashException)
        {
            return true; // disposing the transaction rolls it back: what a dead process's dropped connection does
        }
        await using (var outcome = new NpgsqlCommand(error is null ? NaiveSucceedSql : NaiveFailSql, connection, transaction))
        {
            outcome.Parameters.AddWithValue("id", job.Id);
            if (error is not null) outcome.Parameters.AddWithValue("error", error);
            await outcome.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
        return true;
    }

    // ---- CONTAIN / production: one short auto-commit batch claim with SKIP LOCKED, a lease, and fenced outcomes. ----

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
