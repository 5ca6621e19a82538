// ONE short transaction per order: the order row, its lines, its first history entry and the OrderPlaced outbox row
// commit together or not at all — and it opens only after Payment answered, so no connection is held across a
// remote call. Doc: docs/failure-modes/pool-exhaustion.md, docs/failure-modes/outbox.md
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Orders;

public sealed record NewOrder(
    Guid Id, string IdempotencyKey, string RequestHash, string CustomerId, decimal Total, Guid AuthorizationId,
    IReadOnlyList<OrderLineResponse> Lines);

public static class PlaceOrderTransaction
{
    // Guarantee: one order per Idempotency-Key. The unique insert IS the check: a concurrent duplicate's INSERT waits
    // for ours to commit, then inserts nothing (0 rows) — there is no check-then-insert window.
    private const string InsertOrderSql = """
        INSERT INTO orders (id, idempotency_key, request_hash, customer_id, status, total, payment_authorization_id, created_at, updated_at)
        VALUES ($1, $2, $3, $4, 'Placed', $5, $6, $7, $7)
        ON CONFLICT (idempotency_key) DO NOTHING
        """;

    private const string InsertLinesSql = """
        INSERT INTO order_lines (order_id, sku, quantity, unit_price)
        SELECT $1, sku, quantity, unit_price FROM unnest($2::text[], $3::int[], $4::numeric[]) AS l (sku, quantity, unit_price)
        """;

    private const string InsertHistorySql = "INSERT INTO order_history (order_id, status, note, at) VALUES ($1, 'Placed', $2, $3)";

    /// <returns>True when this call created the order; false when a concurrent duplicate had already created it (nothing written).</returns>
    public static async Task<bool> CommitAsync(NpgsqlDataSource db, NewOrder order, DateTimeOffset now, CancellationToken ct,
        OutboxToggle? outbox = null)
    {
        var write = outbox?.Write ?? EventWrite.Outbox;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var insert = new NpgsqlCommand(InsertOrderSql, connection, tx))
        {
            AddParameters(insert.Parameters, order.Id, order.IdempotencyKey, order.RequestHash, order.CustomerId, order.Total, order.AuthorizationId, now);
            if (await insert.ExecuteNonQueryAsync(ct) == 0) return false; // lost the race: roll back, caller replays the winner
        }
        await using (var batch = new NpgsqlBatch(connection, tx))
        {
            var lines = new NpgsqlBatchCommand(InsertLinesSql);
            AddParameters(lines.Parameters, order.Id, order.Lines.Select(l => l.Sku).ToArray(),
                order.Lines.Select(l => l.Quantity).ToArray(), order.Lines.Select(l => l.UnitPrice).ToArray());
            var history = new NpgsqlBatchCommand(InsertHistorySql);
            AddParameters(history.Parameters, order.Id, $"Authorized {order.Total} {Clients.PaymentClient.Currency}", now);
            batch.BatchCommands.Add(lines);
            batch.BatchCommands.Add(history);
            await batch.ExecuteNonQueryAsync(ct);
        }
        var placed = new OrderPlaced(order.Id, [.. order.Lines.Select(l => new OrderLine(l.Sku, l.Quantity))]);
        if (write == EventWrite.Outbox)
        {
            // CONTAIN / production: the event row commits with the order or not at all — never lost, never phantom.
            await OutboxWriter.EnqueueAsync(connection, tx, placed, ct);
            await tx.CommitAsync(ct);
            return true;
        }
        if (write == EventWrite.PublishBeforeCommit)
        {
            // NAIVE (outbox reproduce): publish BEFORE commit — the event is out; if the transaction now aborts,
            // Inventory reserves stock for an order that does not exist (a phantom event).
            await outbox!.PublishDirectAsync(placed, ct);
            if (outbox.InjectCrash()) throw new SimulatedCrashException($"Simulated crash after publishing {order.Id}, before commit (rolled back)");
            await tx.CommitAsync(ct);
            return true;
        }
        // NAIVE (outbox reproduce): commit, THEN publish — a crash here, or a broker that is down (publish throws, the
        // request fails after the order committed), loses the event: the order stays Placed forever.
        await tx.CommitAsync(ct);
        if (outbox!.InjectCrash()) throw new SimulatedCrashException($"Simulated crash after committing {order.Id}, before publishing");
        await outbox.PublishDirectAsync(placed, ct);
        return true;
    }

    private static void AddParameters(NpgsqlParameterCollection parameters, params object[] values)
    {
        foreach (var value in values) parameters.Add(new NpgsqlParameter { Value = value });
    }
}
