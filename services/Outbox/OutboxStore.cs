// The relay's SQL. Guarantees: a row is claimed by one relay at a time (SKIP LOCKED + lease), only the current
// claimer can settle it (fenced by lock_token), and a crashed claimer's rows come back when the lease expires.
// Doc: docs/failure-modes/outbox.md
using Npgsql;

namespace ReliableShop.Outbox;

internal sealed record ClaimedMessage(Guid Id, string MessageType, string Payload, int Attempts, DateTime CreatedAt);

internal sealed class OutboxStore(NpgsqlDataSource dataSource)
{
    // One short autocommit transaction: lock due rows no other relay holds, oldest first, and lease them to this claim.
    // next_attempt_at moves to the lease end, so if this relay dies the rows become due again exactly then.
    private const string ClaimSql = """
        UPDATE outbox_messages
        SET lock_token = $1,
            locked_until = now() + make_interval(secs => $3),
            next_attempt_at = now() + make_interval(secs => $3)
        WHERE id IN (
            SELECT id FROM outbox_messages
            WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY created_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED)
        RETURNING id, message_type, payload::text, attempts, created_at
        """;

    // Fenced: a relay whose lease expired (and whose rows were re-claimed) updates 0 rows instead of clobbering.
    private const string MarkPublishedSql = """
        UPDATE outbox_messages
        SET status = 'published', published_at = now(), lock_token = NULL, locked_until = NULL, last_error = NULL
        WHERE id = $1 AND lock_token = $2
        """;

    // The same, for every row of a claim whose publish the broker confirmed: one statement (one commit) per batch
    // instead of one per row — per-row commits capped the relay at one fsync per message (B3, docs/benchmarks.md).
    private const string MarkBatchPublishedSql = """
        UPDATE outbox_messages
        SET status = 'published', published_at = now(), lock_token = NULL, locked_until = NULL, last_error = NULL
        WHERE id = ANY($1) AND lock_token = $2
        """;

    // Fenced like above. The attempt is counted and the row either waits out its backoff or, at the limit, goes dead.
    private const string MarkFailedSql = """
        UPDATE outbox_messages
        SET attempts = attempts + 1,
            status = CASE WHEN attempts + 1 >= $3 THEN 'dead' ELSE 'pending' END,
            next_attempt_at = now() + make_interval(secs => $4),
            lock_token = NULL, locked_until = NULL, last_error = $5
        WHERE id = $1 AND lock_token = $2
        RETURNING status
        """;

    // Hands unpublished rows of a claim back at once (shutdown, a failed batch), instead of after the lease.
    private const string ReleaseSql = """
        UPDATE outbox_messages
        SET next_attempt_at = now(), lock_token = NULL, locked_until = NULL
        WHERE id = ANY($1) AND lock_token = $2 AND status = 'pending'
        """;

    public async Task<List<ClaimedMessage>> ClaimAsync(Guid token, int batchSize, TimeSpan lease, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(ClaimSql);
        command.Parameters.Add(new() { Value = token });
        command.Parameters.Add(new() { Value = batchSize });
        command.Parameters.Add(new() { Value = lease.TotalSeconds });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<ClaimedMessage>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetDateTime(4)));
        }
        // RETURNING has no order: publish in created_at order (ties: id, which is time-ordered too).
        return [.. rows.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id)];
    }

    public async Task<bool> MarkPublishedAsync(Guid id, Guid token, CancellationToken ct) =>
        await ExecuteAsync(MarkPublishedSql, ct, id, token) == 1;

    /// <returns>How many of <paramref name="ids"/> were still this claim's (the rest passed to another relay).</returns>
    public Task<int> MarkPublishedAsync(Guid[] ids, Guid token, CancellationToken ct) => ExecuteAsync(MarkBatchPublishedSql, ct, ids, token);

    /// <summary>Returns the new status ("pending" or "dead"), or null when the lease was lost to another relay.</summary>
    public async Task<string?> MarkFailedAsync(Guid id, Guid token, int maxAttempts, TimeSpan delay, string error, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(MarkFailedSql);
        foreach (var value in new object[] { id, token, maxAttempts, delay.TotalSeconds, error })
        {
            command.Parameters.Add(new() { Value = value });
        }
        return (string?)await command.ExecuteScalarAsync(ct);
    }

    public Task<int> ReleaseAsync(Guid[] ids, Guid token, CancellationToken ct) => ExecuteAsync(ReleaseSql, ct, ids, token);

    private async Task<int> ExecuteAsync(string sql, CancellationToken ct, params object[] values)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new() { Value = value });
        }
        return await command.ExecuteNonQueryAsync(ct);
    }
}
