// Operator controls of the outbox: read backlog/dead/lag, and put dead rows back to pending after fixing the cause.
// Handles: a poison or misrouted event that exhausted its attempts is kept, visible and replayable — never dropped.
// Doc: docs/failure-modes/outbox.md
using Npgsql;

namespace ReliableShop.Outbox;

public sealed class OutboxAdmin(NpgsqlDataSource dataSource)
{
    // Counts only unpublished rows (the partial index keeps this cheap while published rows await cleanup).
    internal const string StatsSql = """
        SELECT count(*) FILTER (WHERE status = 'pending'),
               count(*) FILTER (WHERE status = 'dead'),
               coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8
        FROM outbox_messages
        WHERE status <> 'published'
        """;

    // dead → pending with a fresh attempt budget; the relay publishes it on its next sweep (NOTIFY wakes it now).
    private const string ReplaySql = $"""
        WITH replayed AS (
            UPDATE outbox_messages
            SET status = 'pending', attempts = 0, next_attempt_at = now(), lock_token = NULL, locked_until = NULL
            WHERE status = 'dead' AND ($1::uuid IS NULL OR id = $1)
            RETURNING id)
        SELECT count(*)::int, pg_notify('{OutboxWriter.NotifyChannel}', '') FROM replayed
        """;

    public Task<OutboxStats> GetStatsAsync(CancellationToken ct) => QueryStatsAsync(dataSource, ct);

    /// <summary>Requeues one dead row (<paramref name="messageId"/>) or all dead rows (null); returns how many.</summary>
    public async Task<int> ReplayDeadAsync(Guid? messageId, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(ReplaySql);
        command.Parameters.Add(new() { Value = messageId.HasValue ? messageId.Value : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        return (int)(await command.ExecuteScalarAsync(ct))!;
    }

    internal static async Task<OutboxStats> QueryStatsAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(StatsSql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new OutboxStats(reader.GetInt64(0), reader.GetInt64(1), reader.GetDouble(2));
    }
}
