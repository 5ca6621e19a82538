// The invariants no single database can check: Inventory's outcomes and Payment's authorizations (read from their
// /admin/invariants lists) joined with Ordering's orders, by SQL over unnest()ed arrays. Non-zero = broken.
// Fenced against in-flight work: a check only looks at orders settled, or changed, before the peers were asked.
// Doc: docs/architecture.md ("Measuring drills")
using Npgsql;

namespace ReliableShop.Ordering.Invariants;

public sealed record PeerOutcome(Guid OrderId, string Outcome, int Units);

public sealed record PeerAuthorization(Guid OrderId, bool Captured, bool Voided);

public static class CrossServiceInvariants
{
    // non-zero: Inventory decided stock for orders Ordering never committed — a phantom OrderPlaced (published
    // before a commit that rolled back). No fence needed: an order always commits before its event exists.
    public const string PhantomReservationsSql = """
        SELECT count(*) FROM unnest(@OutcomeOrderIds) AS o (order_id)
        WHERE NOT EXISTS (SELECT 1 FROM orders WHERE id = o.order_id)
        """;

    // non-zero: orders placed before settling that Inventory never decided — OrderPlaced lost after the commit.
    public const string OrdersWithoutOutcomeSql = """
        SELECT count(*) FROM orders
        WHERE created_at < @SettledBefore
          AND NOT EXISTS (SELECT 1 FROM unnest(@OutcomeOrderIds) AS o (order_id) WHERE o.order_id = orders.id)
        """;

    // non-zero: units Inventory still holds for orders Ordering did not confirm after settling — stock leaked.
    public const string ReservedNotConfirmedSql = """
        SELECT coalesce(sum(r.units), 0) FROM unnest(@ReservedOrderIds, @ReservedUnits) AS r (order_id, units)
        JOIN orders o ON o.id = r.order_id
        WHERE o.status <> 'Confirmed' AND o.created_at < @SettledBefore
        """;

    // non-zero: orders Confirmed with no capture at Payment — goods given away. Fence: only orders confirmed before
    // Payment was asked (Confirmed is written after the capture, so their capture is in the list).
    public const string ConfirmedWithoutCaptureSql = """
        SELECT count(*) FROM orders
        WHERE status = 'Confirmed' AND updated_at < @AskedAt
          AND NOT EXISTS (SELECT 1 FROM unnest(@CapturedOrderIds) AS c (order_id) WHERE c.order_id = orders.id)
        """;

    // non-zero: orders Cancelled whose authorization was never voided — money held for nothing (same fence).
    public const string CancelledNotVoidedSql = """
        SELECT count(*) FROM orders
        WHERE status = 'Cancelled' AND updated_at < @AskedAt
          AND NOT EXISTS (SELECT 1 FROM unnest(@VoidedOrderIds) AS v (order_id) WHERE v.order_id = orders.id)
        """;

    /// <summary>The checks whose peer answered; a null list (peer unreachable) skips the checks that need it.</summary>
    public static async Task<SortedDictionary<string, long>> CheckAsync(NpgsqlConnection connection,
        IReadOnlyList<PeerOutcome>? outcomes, IReadOnlyList<PeerAuthorization>? authorizations,
        DateTimeOffset settledBefore, DateTimeOffset askedAt, CancellationToken ct)
    {
        var violations = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (outcomes is not null)
        {
            var reserved = outcomes.Where(o => o.Units > 0).ToList();
            var args = new
            {
                OutcomeOrderIds = outcomes.Select(o => o.OrderId).ToArray(), SettledBefore = settledBefore,
                ReservedOrderIds = reserved.Select(o => o.OrderId).ToArray(), ReservedUnits = reserved.Select(o => o.Units).ToArray(),
            };
            violations["phantomReservations"] = await OrderingInvariants.CountAsync(connection, PhantomReservationsSql, args, ct);
            violations["ordersWithoutOutcome"] = await OrderingInvariants.CountAsync(connection, OrdersWithoutOutcomeSql, args, ct);
            violations["reservedNotConfirmed"] = await OrderingInvariants.CountAsync(connection, ReservedNotConfirmedSql, args, ct);
        }
        if (authorizations is not null)
        {
            var args = new
            {
                CapturedOrderIds = authorizations.Where(a => a.Captured).Select(a => a.OrderId).ToArray(),
                VoidedOrderIds = authorizations.Where(a => a.Voided).Select(a => a.OrderId).ToArray(), AskedAt = askedAt,
            };
            violations["confirmedWithoutCapture"] = await OrderingInvariants.CountAsync(connection, ConfirmedWithoutCaptureSql, args, ct);
            violations["cancelledNotVoided"] = await OrderingInvariants.CountAsync(connection, CancelledNotVoidedSql, args, ct);
        }
        return violations;
    }
}
