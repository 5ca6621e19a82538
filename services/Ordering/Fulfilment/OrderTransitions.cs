// Guarantee: an order's status moves only from the state the event expects (Placed → Reserved, Reserved → Confirmed,
// ...) and each move writes exactly one history row; a duplicate, late or out-of-order event moves nothing.
// Doc: docs/failure-modes/background-jobs.md
using Npgsql;

namespace ReliableShop.Ordering.Fulfilment;

public static class OrderTransitions
{
    // The conditional UPDATE is the guard: two workers racing on one order cannot both match status = $2.
    private const string MoveSql = """
        WITH moved AS (
            UPDATE orders SET status = $3, updated_at = $5
            WHERE id = $1 AND status = $2
            RETURNING id, payment_authorization_id),
        history AS (
            INSERT INTO order_history (order_id, status, note, at) SELECT id, $3, $4, $5 FROM moved)
        SELECT payment_authorization_id FROM moved
        """;

    /// <summary>Moves <paramref name="orderId"/> from <paramref name="from"/> to <paramref name="to"/> inside <paramref name="tx"/>.</summary>
    /// <returns>Moved = false when the order is unknown or not in <paramref name="from"/>; then nothing was written.</returns>
    public static async Task<(bool Moved, Guid? AuthorizationId)> MoveAsync(NpgsqlConnection connection, NpgsqlTransaction tx,
        Guid orderId, string from, string to, string? note, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(MoveSql, connection, tx);
        command.Parameters.Add(new() { Value = orderId });
        command.Parameters.Add(new() { Value = from });
        command.Parameters.Add(new() { Value = to });
        command.Parameters.Add(new() { Value = (object?)note ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = now });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return (false, null);
        return (true, reader.IsDBNull(0) ? null : reader.GetGuid(0));
    }

    /// <summary>One transaction holding just the move (used by the payment jobs after Payment answered).</summary>
    public static async Task<bool> MoveAsync(NpgsqlDataSource db, Guid orderId, string from, string to, string? note,
        DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var (moved, _) = await MoveAsync(connection, tx, orderId, from, to, note, now, ct);
        await tx.CommitAsync(ct);
        return moved;
    }
}
