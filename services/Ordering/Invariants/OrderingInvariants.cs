// Ordering's own invariants, computed by SQL on the orders database: every query counts violations, so any non-zero
// count means the guarantee in its comment was broken. Reported as "ordering.<name>" by GET /admin/invariants.
// Doc: docs/architecture.md ("Measuring drills")
using Dapper;
using Npgsql;

namespace ReliableShop.Ordering.Invariants;

public static class OrderingInvariants
{
    // non-zero: one Idempotency-Key produced several orders — a retried or concurrent POST bypassed the unique insert.
    public const string DuplicateOrdersPerKeySql = "SELECT count(*) - count(DISTINCT idempotency_key) FROM orders";

    // non-zero: orders placed before settling that are still not Confirmed/Cancelled — an event or a job got lost.
    public const string UnsettledOrdersSql = """
        SELECT count(*) FROM orders
        WHERE status NOT IN ('Confirmed', 'Cancelled') AND created_at < @SettledBefore
        """;

    // non-zero: work nobody does — a lease expired more than a reaper interval ago (a crashed worker nobody reaped),
    // or a queued job overdue by more than 60 s (no worker is claiming). A kind paced by Jobs:KindRatePerSecond is
    // late by design while its backlog drains: its n-th overdue job (oldest first) is allowed n ÷ the fleet's rate more
    // (@PacedKinds / @FleetRates: the kind's rate × the replicas), so a backlog draining at its pace is not "stuck"
    // and one that stops draining still is.
    public const string StuckJobsSql = """
        WITH pace AS (SELECT * FROM unnest(@PacedKinds::text[], @FleetRates::float8[]) AS p(kind, per_second)),
        overdue AS (
            SELECT j.run_at, p.per_second,
                   row_number() OVER (PARTITION BY j.kind ORDER BY j.run_at, j.id) - 1 AS ahead
            FROM jobs j LEFT JOIN pace p ON p.kind = j.kind
            WHERE j.state = 'queued' AND j.run_at < now() - interval '60 seconds')
        SELECT (SELECT count(*) FROM jobs WHERE state = 'running' AND locked_until < now() - make_interval(secs => @ReaperIntervalSeconds))
             + (SELECT count(*) FROM overdue
                WHERE per_second IS NULL OR run_at < now() - interval '60 seconds' - make_interval(secs => ahead / per_second))
        """;

    // non-zero: capture/void jobs that used up their attempts (or failed permanently) and wait for an operator.
    public const string DeadJobsSql = "SELECT count(*) FROM jobs WHERE state = 'dead'";

    // non-zero: OrderPlaced events that used up their publish attempts: Inventory never hears of those orders.
    public const string DeadOutboxMessagesSql = "SELECT count(*) FROM outbox_messages WHERE status = 'dead'";

    // non-zero: reconciliation of background work — Confirmed orders that did not get exactly one order confirmation
    // (a consumer re-ran a non-idempotent side effect after a crash, or lost it). With confirmedWithoutCapture and
    // payment.capturesPerOrderAboveOne: "every confirmed order has exactly one capture and one confirmation".
    public const string ConfirmationsNotExactlyOneSql = """
        SELECT count(*) FROM orders o
        WHERE o.status = 'Confirmed'
          AND (SELECT count(*) FROM order_confirmations c WHERE c.order_id = o.id) <> 1
        """;

    /// <param name="fleetRates">Jobs:KindRatePerSecond × the replicas: jobs of the kind the whole fleet starts per second.</param>
    public static async Task<SortedDictionary<string, long>> CheckAsync(
        NpgsqlConnection connection, DateTimeOffset settledBefore, int reaperIntervalSeconds,
        IReadOnlyDictionary<string, double> fleetRates, CancellationToken ct)
    {
        var args = new
        {
            SettledBefore = settledBefore,
            ReaperIntervalSeconds = reaperIntervalSeconds,
            PacedKinds = fleetRates.Keys.ToArray(),
            FleetRates = fleetRates.Values.ToArray(),
        };
        return new SortedDictionary<string, long>(StringComparer.Ordinal)
        {
            ["duplicateOrdersPerKey"] = await CountAsync(connection, DuplicateOrdersPerKeySql, args, ct),
            ["unsettledOrders"] = await CountAsync(connection, UnsettledOrdersSql, args, ct),
            ["stuckJobs"] = await CountAsync(connection, StuckJobsSql, args, ct),
            ["deadJobs"] = await CountAsync(connection, DeadJobsSql, args, ct),
            ["deadOutboxMessages"] = await CountAsync(connection, DeadOutboxMessagesSql, args, ct),
            ["confirmationsNotExactlyOne"] = await CountAsync(connection, ConfirmationsNotExactlyOneSql, args, ct),
        };
    }

    internal static Task<long> CountAsync(NpgsqlConnection connection, string sql, object args, CancellationToken ct) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, args, cancellationToken: ct));
}
