// Reads of the orders database: the idempotency lookup (by key) and the whole order in one round trip.
// Doc: docs/failure-modes/race-conditions.md
using Npgsql;

namespace ReliableShop.Ordering.Orders;

public sealed record StoredKey(Guid OrderId, string RequestHash);

public static class OrderQueries
{
    private const string ByKeySql = "SELECT id, request_hash FROM orders WHERE idempotency_key = $1";

    // Three statements, one round trip: header, lines, history.
    private const string OrderSql = "SELECT status, total, payment_authorization_id FROM orders WHERE id = $1";
    private const string LinesSql = "SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = $1 ORDER BY sku";
    private const string HistorySql = "SELECT status, at, note FROM order_history WHERE order_id = $1 ORDER BY id";

    public static async Task<StoredKey?> FindByKeyAsync(NpgsqlDataSource db, string idempotencyKey, CancellationToken ct)
    {
        await using var command = db.CreateCommand(ByKeySql);
        command.Parameters.Add(new() { Value = idempotencyKey });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new StoredKey(reader.GetGuid(0), reader.GetString(1)) : null;
    }

    public static async Task<OrderResponse?> LoadAsync(NpgsqlDataSource db, Guid id, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        foreach (var sql in new[] { OrderSql, LinesSql, HistorySql })
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql) { Parameters = { new() { Value = id } } });
        }
        await using var reader = await batch.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var (status, total, authorization) = (reader.GetString(0), reader.GetDecimal(1), reader.IsDBNull(2) ? (Guid?)null : reader.GetGuid(2));
        var lines = new List<OrderLineResponse>();
        await reader.NextResultAsync(ct);
        while (await reader.ReadAsync(ct)) lines.Add(new(reader.GetString(0), reader.GetInt32(1), reader.GetDecimal(2)));
        var history = new List<OrderHistoryResponse>();
        await reader.NextResultAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            history.Add(new(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }
        return new OrderResponse(id, status, total, lines, authorization, history);
    }
}
