// load-only-bugs: "one order per cart". A request may name the cart it checks out (cartId); two submissions of one
// cart — a double click, a client that retried a slow request under a NEW Idempotency-Key, two tabs — must give ONE
// order. Both versions are correct one request at a time; only concurrency tells them apart.
// Doc: docs/failure-modes/load-only-bugs.md
using Npgsql;
using ReliableShop.FailureModes;

namespace ReliableShop.Ordering.Orders;

/// <summary>What to do with a request for a cart: go on and place it, answer with the cart's order, or 409 (being placed).</summary>
public readonly record struct CartDecision(bool Proceed, Guid? ExistingOrderId)
{
    public static readonly CartDecision Go = new(true, null);
    public static readonly CartDecision InProgress = new(false, null);
}

public static class CartCheckout
{
    /// <summary>How long a duplicate waits for the cart's first request to finish before it is told 409 + Retry-After.</summary>
    public static readonly TimeSpan WaitForOwner = TimeSpan.FromSeconds(3);

    /// <summary>A claim whose request neither finished nor released it (a crashed replica) is taken over after this.</summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(60);

    // NAIVE (reproduce): check, then act. Nothing stops two requests from both seeing "no order yet" — the window is the
    // whole Payment call between this SELECT and the INSERT, and tail latency and client retries widen it.
    private const string ExistingOrderSql = "SELECT id FROM orders WHERE cart_id = $1 ORDER BY created_at LIMIT 1";

    // CONTROL: the claim's primary key IS the check. Exactly one request inserts the row (a concurrent one waits for our
    // commit, then conflicts); an abandoned claim whose order never came is taken over after AbandonedAfter.
    private const string ClaimSql = """
        INSERT INTO cart_claims (cart_id, idempotency_key, claimed_at) VALUES ($1, $2, $3)
        ON CONFLICT (cart_id) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key, claimed_at = EXCLUDED.claimed_at
            WHERE cart_claims.claimed_at < $4
              AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.idempotency_key = cart_claims.idempotency_key)
        RETURNING idempotency_key
        """;

    private const string OwnerSql = """
        SELECT c.idempotency_key, o.id FROM cart_claims c LEFT JOIN orders o ON o.idempotency_key = c.idempotency_key
        WHERE c.cart_id = $1
        """;

    // The owner failed before writing its order (Payment unavailable, validation at Payment …): free the cart.
    private const string ReleaseSql = """
        DELETE FROM cart_claims c WHERE c.cart_id = $1 AND c.idempotency_key = $2
          AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.idempotency_key = c.idempotency_key)
        """;

    public static async Task<CartDecision> BeginAsync(
        NpgsqlDataSource db, FailureModeToggles toggles, NewOrder order, TimeProvider time, CancellationToken ct)
    {
        if (order.CartId is not { } cart) return CartDecision.Go;
        if (toggles["load-only-bugs"].Naive)
        {
            await using var check = db.CreateCommand(ExistingOrderSql);
            check.Parameters.Add(new() { Value = cart });
            return await check.ExecuteScalarAsync(ct) is Guid existing ? new(false, existing) : CartDecision.Go;
        }
        var deadline = time.GetUtcNow() + WaitForOwner;
        while (true)
        {
            var now = time.GetUtcNow();
            await using (var claim = db.CreateCommand(ClaimSql))
            {
                foreach (var value in new object[] { cart, order.IdempotencyKey, now, now - AbandonedAfter }) claim.Parameters.Add(new() { Value = value });
                if (await claim.ExecuteScalarAsync(ct) is not null) return CartDecision.Go; // ours
            }
            await using (var owner = db.CreateCommand(OwnerSql))
            {
                owner.Parameters.Add(new() { Value = cart });
                await using var reader = await owner.ExecuteReaderAsync(ct);
                if (await reader.ReadAsync(ct))
                {
                    // The same request again (same key): the Idempotency-Key path dedups it; another request's order: replay it.
                    if (reader.GetString(0) == order.IdempotencyKey) return CartDecision.Go;
                    if (!reader.IsDBNull(1)) return new(false, reader.GetGuid(1));
                }
            }
            if (time.GetUtcNow() >= deadline) return CartDecision.InProgress;
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct); // the owner is still placing it (or just released it)
        }
    }

    /// <summary>Frees the cart when its owner failed before its order was written (naive path: nothing to free).</summary>
    public static async Task ReleaseAsync(NpgsqlDataSource db, NewOrder order)
    {
        if (order.CartId is not { } cart) return;
        await using var release = db.CreateCommand(ReleaseSql);
        release.Parameters.Add(new() { Value = cart });
        release.Parameters.Add(new() { Value = order.IdempotencyKey });
        await release.ExecuteNonQueryAsync(CancellationToken.None);
    }
}

/// <summary>
/// /admin/stats section "carts": carts ordered since the last POST /admin/stats/reset, and how many of them got more
/// than one order (the load-only-bugs KPI). Read from the orders table on demand.
/// </summary>
public sealed class CartStats(NpgsqlDataSource db, TimeProvider time) : ReliableShop.Drills.IDrillStatsSource
{
    private const string StatsSql = """
        SELECT count(*), count(*) FILTER (WHERE orders > 1), coalesce(sum(orders - 1), 0)
        FROM (SELECT count(*) AS orders FROM orders WHERE cart_id IS NOT NULL GROUP BY cart_id HAVING min(created_at) >= $1) c
        """;

    private DateTimeOffset since = DateTimeOffset.MinValue;

    public string Section => "carts";

    public void Reset() => since = time.GetUtcNow();

    public async Task<object> ReadAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand(StatsSql);
        command.Parameters.Add(new() { Value = since == DateTimeOffset.MinValue ? DateTimeOffset.UnixEpoch : since });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return new { carts = reader.GetInt64(0), cartsWithDuplicates = reader.GetInt64(1), duplicateOrders = reader.GetInt64(2) };
    }
}
