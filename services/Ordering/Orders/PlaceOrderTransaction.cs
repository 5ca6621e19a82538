// ONE short transaction per order: the order row, its lines, its first history entry and the OrderPlaced outbox row
// (or, when Payment was unavailable, the job that authorizes it later) commit together or not at all — and it opens
// only after Payment answered, so no connection is held across a remote call. Doc: docs/failure-modes/pool-exhaustion.md, docs/failure-modes/outbox.md
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Fulfilment;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Orders;

/// <param name="AuthorizationId">Null: Payment was unavailable, the order is accepted as PaymentPending.</param>
public sealed record NewOrder(
    Guid Id, string IdempotencyKey, string RequestHash, string CustomerId, decimal Total, Guid? AuthorizationId,
    IReadOnlyList<OrderLineResponse> Lines)
{
    public string Status => AuthorizationId is null ? "PaymentPending" : "Placed";

    /// <summary>load-only-bugs: the cart this order checks out (optional); one order per cart, see Orders/CartCheckout.cs.</summary>
    public string? CartId { get; init; }
}

public static class PlaceOrderTransaction
{
    // Guarantee: one order per Idempotency-Key. The unique insert IS the check: a concurrent duplicate's INSERT waits
    // for ours to commit, then inserts nothing (0 rows) — there is no check-then-insert window. No conflict target: the
    // id is derived from the key, so the row has two unique indexes that say the same thing, and ON CONFLICT arbitrates
    // only on its target's — with `(idempotency_key)`, a duplicate whose insert met ours in the primary key first failed
    // with 23505 instead of doing nothing (PlaceOrderTests: 30 transactions at once, 20 times).
    private const string InsertOrderSql = """
        INSERT INTO orders (id, idempotency_key, request_hash, customer_id, status, total, payment_authorization_id, created_at, updated_at, cart_id)
        VALUES ($1, $2, $3, $4, $8, $5, $6, $7, $7, $9)
        ON CONFLICT DO NOTHING
        """;

    private const string InsertLinesSql = """
        INSERT INTO order_lines (order_id, sku, quantity, unit_price)
        SELECT $1, sku, quantity, unit_price FROM unnest($2::text[], $3::int[], $4::numeric[]) AS l (sku, quantity, unit_price)
        """;

    private const string InsertHistorySql = "INSERT INTO order_history (order_id, status, note, at) VALUES ($1, $4, $2, $3)";

    /// <returns>True when this call created the order; false when a concurrent duplicate had already created it (nothing written).</returns>
    public static async Task<bool> CommitAsync(NpgsqlDataSource db, NewOrder order, DateTimeOffset now, CancellationToken ct,
        OutboxToggle? outbox = null)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await CommitAsync(connection, order, now, ct, outbox);
    }

    /// <summary>
    /// The same transaction on a connection the caller opened (Orders/OrderPlacement.cs times the pool wait). The
    /// OrderPlaced event goes through the outbox — unless the outbox drill reproduces a dual write (OutboxToggle.cs).
    /// </summary>
    public static async Task<bool> CommitAsync(NpgsqlConnection connection, NewOrder order, DateTimeOffset now, CancellationToken ct,
        OutboxToggle? outbox = null)
    {
        // A PaymentPending order has no event yet (its authorize job writes it), so only a placed one can dual-write.
        var write = order.AuthorizationId is null ? EventWrite.Outbox : outbox?.Write ?? EventWrite.Outbox;
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!await WriteAsync(connection, tx, order, now, ct, enqueueEvent: write == EventWrite.Outbox)) return false; // lost the race: roll back, caller replays the winner
        if (write == EventWrite.Outbox)
        {
            // CONTAIN / production: the event row commits with the order or not at all — never lost, never phantom.
            await tx.CommitAsync(ct);
            return true;
        }
        var placed = new OrderPlaced(order.Id, [.. order.Lines.Select(l => new OrderLine(l.Sku, l.Quantity))]);
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

    /// <summary>
    /// The writes of one order inside the caller's transaction — with its OrderPlaced outbox row (or, PaymentPending,
    /// its authorize job); false (nothing written) when the key already has one.
    /// </summary>
    public static async Task<bool> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction tx, NewOrder order, DateTimeOffset now,
        CancellationToken ct, bool enqueueEvent = true)
    {
        await using (var insert = new NpgsqlCommand(InsertOrderSql, connection, tx))
        {
            AddParameters(insert.Parameters, order.Id, order.IdempotencyKey, order.RequestHash, order.CustomerId, order.Total);
            insert.Parameters.Add(new NpgsqlParameter<Guid?> { TypedValue = order.AuthorizationId });
            AddParameters(insert.Parameters, now, order.Status);
            insert.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = order.CartId });
            if (await insert.ExecuteNonQueryAsync(ct) == 0) return false;
        }
        await using (var batch = new NpgsqlBatch(connection, tx))
        {
            var lines = new NpgsqlBatchCommand(InsertLinesSql);
            AddParameters(lines.Parameters, order.Id, order.Lines.Select(l => l.Sku).ToArray(),
                order.Lines.Select(l => l.Quantity).ToArray(), order.Lines.Select(l => l.UnitPrice).ToArray());
            var history = new NpgsqlBatchCommand(InsertHistorySql);
            AddParameters(history.Parameters, order.Id, order.AuthorizationId is null
                ? $"Payment unavailable: accepted, {order.Total} {Clients.PaymentClient.Currency} to be authorized"
                : $"Authorized {order.Total} {Clients.PaymentClient.Currency}", now, order.Status);
            batch.BatchCommands.Add(lines);
            batch.BatchCommands.Add(history);
            await batch.ExecuteNonQueryAsync(ct);
        }
        if (order.AuthorizationId is null)
        {
            // circuit-breaker fallback: no OrderPlaced yet — the authorize job publishes it once Payment said yes.
            await JobQueue.EnqueueAsync(connection, tx, AuthorizePaymentJob.Kind, AuthorizePaymentJob.Payload(order.Id),
                uniqueKey: $"authorize:{order.Id}", ct: ct);
        }
        else if (enqueueEvent)
        {
            await EnqueuePlacedAsync(connection, tx, order.Id, order.Lines.Select(l => (l.Sku, l.Quantity)), ct);
        }
        return true;
    }

    /// <summary>The OrderPlaced event, in the caller's transaction (the outbox row commits with the order or not at all).</summary>
    public static Task EnqueuePlacedAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid orderId,
        IEnumerable<(string Sku, int Quantity)> lines, CancellationToken ct) =>
        OutboxWriter.EnqueueAsync(connection, tx, new OrderPlaced(orderId, [.. lines.Select(l => new OrderLine(l.Sku, l.Quantity))]), ct);

    private static void AddParameters(NpgsqlParameterCollection parameters, params object[] values)
    {
        foreach (var value in values) parameters.Add(new NpgsqlParameter { Value = value });
    }
}
