// Payment's invariants, computed by SQL on its own database: every query counts violations, so any non-zero count
// means the guarantee in its comment was broken. Ordering's GET /admin/invariants merges them as "payment.<name>" and
// checks GET /admin/invariants/authorizations against its orders. Doc: docs/architecture.md ("Measuring drills")
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ReliableShop.Payment.Invariants;

public sealed record InvariantReport(string Service, IReadOnlyDictionary<string, long> Violations, long Total);

public sealed record AuthorizationOutcome(Guid OrderId, bool Captured, bool Voided);

public static class PaymentInvariants
{
    // non-zero: orders charged more than once — two captures across their authorizations (a duplicated charge).
    public const string CapturesPerOrderAboveOneSql = """
        SELECT count(*) FROM (
            SELECT a.order_id FROM captures c JOIN authorizations a ON a.id = c.authorization_id
            GROUP BY a.order_id HAVING count(*) > 1
        ) AS charged_twice
        """;

    // non-zero: orders with more than one authorization — a side effect repeated by a retry without idempotency key.
    public const string AuthorizationsPerOrderAboveOneSql = """
        SELECT count(*) FROM (
            SELECT order_id FROM authorizations GROUP BY order_id HAVING count(*) > 1
        ) AS authorized_twice
        """;

    // non-zero: authorizations both captured and voided — money taken for an order that was also called off.
    public const string CapturedAndVoidedSql = """
        SELECT count(*) FROM captures c JOIN voids v ON v.authorization_id = c.authorization_id
        """;

    // Every authorization's fate, for Ordering's cross-service checks (confirmed without capture, cancelled not voided).
    private const string AuthorizationsSql = """
        SELECT a.order_id AS OrderId, c.authorization_id IS NOT NULL AS Captured, v.authorization_id IS NOT NULL AS Voided
        FROM authorizations a
        LEFT JOIN captures c ON c.authorization_id = a.id
        LEFT JOIN voids v ON v.authorization_id = a.id
        """;

    /// <summary>GET /admin/invariants and GET /admin/invariants/authorizations (admin key required).</summary>
    public static RouteGroupBuilder MapPaymentInvariants(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/admin/invariants").WithTags("Admin");
        group.MapGet("/", CheckAsync);
        group.MapGet("/authorizations", ListAuthorizationsAsync);
        return group;
    }

    public static async Task<Ok<InvariantReport>> CheckAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var violations = new SortedDictionary<string, long>(StringComparer.Ordinal)
        {
            ["capturesPerOrderAboveOne"] = await CountAsync(connection, CapturesPerOrderAboveOneSql, ct),
            ["authorizationsPerOrderAboveOne"] = await CountAsync(connection, AuthorizationsPerOrderAboveOneSql, ct),
            ["capturedAndVoided"] = await CountAsync(connection, CapturedAndVoidedSql, ct),
        };
        return TypedResults.Ok(new InvariantReport("payment", violations, violations.Values.Sum()));
    }

    public static async Task<Ok<List<AuthorizationOutcome>>> ListAuthorizationsAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var authorizations = await connection.QueryAsync<AuthorizationOutcome>(new CommandDefinition(AuthorizationsSql, cancellationToken: ct));
        return TypedResults.Ok(authorizations.AsList());
    }

    private static Task<long> CountAsync(NpgsqlConnection connection, string sql, CancellationToken ct) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, cancellationToken: ct));
}
