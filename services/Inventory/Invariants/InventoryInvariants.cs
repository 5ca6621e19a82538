// Inventory's invariants, computed by SQL on its own database: every query counts violations, so any non-zero count
// means the guarantee in its comment was broken. Ordering's GET /admin/invariants merges them as "inventory.<name>"
// and checks GET /admin/invariants/outcomes against its orders. Doc: docs/architecture.md ("Measuring drills")
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ReliableShop.Inventory.Invariants;

public sealed record InvariantReport(string Service, IReadOnlyDictionary<string, long> Violations, long Total);

public sealed record ReservationOutcome(Guid OrderId, string Outcome, int Units);

public static class InventoryInvariants
{
    // non-zero: SKUs with more units reserved than were ever made available — an oversell, e.g. a lost update
    // (read stock, write stock − 1) that sold the same unit twice while available never went below 0.
    public const string OversoldSkusSql = """
        SELECT count(*) FROM catalog_items c
        WHERE (SELECT coalesce(sum(r.quantity), 0) FROM reservations r WHERE r.sku = c.sku) > c.received
        """;

    // non-zero: stock below zero, which the CHECK (available >= 0) forbids: the constraint was dropped or bypassed.
    public const string NegativeStockSql = "SELECT count(*) FROM catalog_items WHERE available < 0";

    // non-zero: StockReserved/StockRejected events that used up their publish attempts: Ordering never hears them.
    public const string DeadOutboxMessagesSql = "SELECT count(*) FROM outbox_messages WHERE status = 'dead'";

    // Every decided order and the units it holds, for Ordering's cross-service checks (phantoms, leaked stock).
    private const string OutcomesSql = """
        SELECT o.order_id AS OrderId, o.outcome, coalesce(sum(r.quantity), 0)::int AS units
        FROM reservation_outcomes o LEFT JOIN reservations r ON r.order_id = o.order_id
        GROUP BY o.order_id, o.outcome
        """;

    /// <summary>GET /admin/invariants and GET /admin/invariants/outcomes (admin key required).</summary>
    public static RouteGroupBuilder MapInventoryInvariants(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/admin/invariants").WithTags("Admin");
        group.MapGet("/", CheckAsync);
        group.MapGet("/outcomes", ListOutcomesAsync);
        return group;
    }

    public static async Task<Ok<InvariantReport>> CheckAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var violations = new SortedDictionary<string, long>(StringComparer.Ordinal)
        {
            ["oversoldSkus"] = await CountAsync(connection, OversoldSkusSql, ct),
            ["negativeStock"] = await CountAsync(connection, NegativeStockSql, ct),
            ["deadOutboxMessages"] = await CountAsync(connection, DeadOutboxMessagesSql, ct),
        };
        return TypedResults.Ok(new InvariantReport("inventory", violations, violations.Values.Sum()));
    }

    public static async Task<Ok<List<ReservationOutcome>>> ListOutcomesAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var outcomes = await connection.QueryAsync<ReservationOutcome>(new CommandDefinition(OutcomesSql, cancellationToken: ct));
        return TypedResults.Ok(outcomes.AsList());
    }

    private static Task<long> CountAsync(NpgsqlConnection connection, string sql, CancellationToken ct) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, cancellationToken: ct));
}
