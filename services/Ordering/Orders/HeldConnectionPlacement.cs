// THE NAIVE PLACEMENT (reproduce of pool-exhaustion, timeouts-cascade and scaling-plateau): open a pooled connection and
// a transaction, check, call Payment INSIDE it, then write and commit. What it does wrong:
//   * the connection is out of the pool for the whole Payment call, not for the milliseconds of SQL: a slow Payment
//     (or a small pool) makes every other request WAIT FOR A CONNECTION before its SQL starts — the slow-query log
//     shows nothing, request latency is pool wait (docs/failure-modes/pool-exhaustion.md);
//   * the session sits "idle in transaction" while it waits, holding whatever it locked; with scaling-plateau it
//     locks the one order-number counter row first, so every order of every replica queues on that row for a whole
//     Payment call: goodput = 1 / Payment latency, however many replicas run (docs/failure-modes/scaling-plateau.md);
//   * Npgsql's default pool-wait timeout (15 s) is far above the request deadline: callers time out first.
// The control is OrderPlacement.PlaceShortAsync: authorize first, then ONE short transaction; order numbers from a
// sequence (the orders.order_number default), no lock held across a remote call.
using Npgsql;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Clients;

namespace ReliableShop.Ordering.Orders;

public static class HeldConnectionPlacement
{
    /// <summary>True when any mode whose reproduce IS this naive path is in reproduce (one predicate for issues 4 and 5).</summary>
    public static bool Selected(FailureModeToggles toggles)
    {
        var modes = toggles.Current;
        return modes["pool-exhaustion"].Naive || modes["timeouts-cascade"].Naive || modes["scaling-plateau"].Naive;
    }

    /// <summary>scaling-plateau reproduce: also take the hot counter row's lock before Payment.</summary>
    public static bool LocksHotRow(FailureModeToggles toggles) => toggles["scaling-plateau"].Naive;

    private const string AlreadyPlacedSql = "SELECT 1 FROM orders WHERE idempotency_key = $1";
    private const string NextNumberSql = "UPDATE order_number_counter SET last = last + 1 WHERE id = 1 RETURNING last";
    private const string SetNumberSql = "UPDATE orders SET order_number = $1 WHERE id = $2";

    public static async Task<PlacementOutcome> PlaceAsync(
        NpgsqlDataSource db, PaymentClient payment, NewOrder order, bool lockHotRow, TimeProvider time, PlacementTimings timings,
        CancellationToken ct)
    {
        var timing = new PlacementTiming(Held: true);
        var started = time.GetTimestamp();
        await using var connection = await db.OpenConnectionAsync(ct); // WRONG: taken before the remote call…
        timing.PoolWait = time.GetElapsedTime(started);
        try
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            var sql = time.GetTimestamp();
            await using (var check = new NpgsqlCommand(AlreadyPlacedSql, connection, tx)) // BEGIN is sent with it: "idle in transaction" from here
            {
                check.Parameters.Add(new() { Value = order.IdempotencyKey });
                if (await check.ExecuteScalarAsync(ct) is not null) return PlacementOutcome.Duplicate;
            }
            long? number = null;
            if (lockHotRow)
            {
                var locking = time.GetTimestamp();
                await using var next = new NpgsqlCommand(NextNumberSql, connection, tx); // WRONG: the hot row stays locked until commit…
                number = (long)(await next.ExecuteScalarAsync(ct))!;
                timing.LockWait = time.GetElapsedTime(locking);
            }
            timing.Sql += time.GetElapsedTime(sql);

            var calling = time.GetTimestamp();
            var authorization = await payment.AuthorizeAsync(OrderIdentity.PaymentKeyFor(order.IdempotencyKey), order.Id, order.Total, ct);
            timing.RemoteInTransaction = time.GetElapsedTime(calling); // …held across this whole call
            if (authorization is not { } authorizationId) return PlacementOutcome.KeyMismatch;

            sql = time.GetTimestamp();
            if (!await PlaceOrderTransaction.WriteAsync(connection, tx, order with { AuthorizationId = authorizationId }, time.GetUtcNow(), ct))
            {
                return PlacementOutcome.Duplicate;
            }
            if (number is { } n)
            {
                await using var set = new NpgsqlCommand(SetNumberSql, connection, tx);
                set.Parameters.Add(new() { Value = n });
                set.Parameters.Add(new() { Value = order.Id });
                await set.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
            timing.Sql += time.GetElapsedTime(sql);
            return PlacementOutcome.Created;
        }
        finally
        {
            timing.Total = time.GetElapsedTime(started);
            timings.Record(timing);
        }
    }
}
