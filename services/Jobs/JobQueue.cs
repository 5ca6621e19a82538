// Guarantee: a job exists if and only if the caller's transaction commits (same connection, same transaction).
// Failure handled: no "saved the order but lost the job" window; a duplicate (kind, uniqueKey) is a no-op, not an error.
// Doc: docs/failure-modes/skip-locked-queue.md
using Npgsql;
using NpgsqlTypes;

namespace ReliableShop.Jobs;

public static class JobQueue
{
    public const string Channel = "reliableshop_jobs";

    // Atomic with the caller's writes; a duplicate (kind, unique_key) inserts nothing and returns no row.
    // NOTIFY is transactional too: workers are woken only when (and if) the transaction commits.
    private const string EnqueueSql = $"""
        INSERT INTO jobs (kind, payload, unique_key, run_at)
        VALUES (@kind, @payload, @unique_key, COALESCE(@run_at, now()))
        ON CONFLICT (kind, unique_key) WHERE unique_key IS NOT NULL DO NOTHING
        RETURNING id;
        NOTIFY {Channel};
        """;

    /// <returns>The job id, or null when a job with the same (kind, uniqueKey) already exists.</returns>
    public static async Task<long?> EnqueueAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string kind, string payloadJson,
        string? uniqueKey = null, DateTimeOffset? runAt = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        ArgumentNullException.ThrowIfNull(payloadJson);
        await using var command = new NpgsqlCommand(EnqueueSql, connection, transaction);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("payload", NpgsqlDbType.Jsonb, payloadJson);
        command.Parameters.AddWithValue("unique_key", NpgsqlDbType.Text, (object?)uniqueKey ?? DBNull.Value);
        // timestamptz accepts only UTC DateTimeOffsets.
        command.Parameters.AddWithValue("run_at", NpgsqlDbType.TimestampTz, (object?)runAt?.ToUniversalTime() ?? DBNull.Value);
        return await command.ExecuteScalarAsync(ct) is long id ? id : null;
    }
}
