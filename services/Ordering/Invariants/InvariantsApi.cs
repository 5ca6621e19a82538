// GET /admin/invariants?settleSeconds=30 — the SYSTEM view drills end on (k6 checkInvariants: total must be 0):
// Ordering's own checks ("ordering.*"), Inventory's and Payment's ("inventory.*", "payment.*", or
// "unreachable.<service>": 1) and the cross-service checks (no prefix). Doc: docs/architecture.md ("Measuring drills")
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;
using ReliableShop.Jobs;

namespace ReliableShop.Ordering.Invariants;

public sealed record InvariantReport(string Service, IReadOnlyDictionary<string, long> Violations, long Total);

public static class InvariantsApi
{
    /// <summary>Orders younger than this are in flight, not lost: "after settling" checks skip them. 0 = check everything.</summary>
    public const int DefaultSettleSeconds = 30;
    public const int MaxSettleSeconds = 86_400;

    public static IEndpointRouteBuilder MapOrderingInvariants(this IEndpointRouteBuilder app)
    {
        app.MapAdminGroup("/admin/invariants").WithTags("Admin").MapGet("/", CheckAsync);
        return app;
    }

    public static async Task<Results<Ok<InvariantReport>, ValidationProblem>> CheckAsync(
        NpgsqlDataSource db, PeerInvariantsClient peers, IOptions<JobsOptions> jobs, IOptions<ConnectionBudgetOptions> budget,
        TimeProvider time, CancellationToken ct,
        int settleSeconds = DefaultSettleSeconds)
    {
        if (settleSeconds is < 0 or > MaxSettleSeconds)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["settleSeconds"] = [$"Must be between 0 and {MaxSettleSeconds}; was {settleSeconds}."],
            });
        }
        var askedAt = time.GetUtcNow(); // before the peers answer: the cross-service fence
        var settledBefore = askedAt.AddSeconds(-settleSeconds);
        var inventoryRead = peers.ReadInventoryAsync(ct);
        var paymentRead = peers.ReadPaymentAsync(ct);
        var (inventory, payment) = (await inventoryRead, await paymentRead);

        await using var connection = await db.OpenConnectionAsync(ct);
        var violations = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var fleetRates = jobs.Value.KindRatePerSecond.ToDictionary(k => k.Key, k => k.Value * budget.Value.Replicas);
        Merge(violations, "ordering.", await OrderingInvariants.CheckAsync(connection, settledBefore, jobs.Value.ReaperIntervalSeconds, fleetRates, ct));
        MergePeer(violations, "inventory", inventory?.Report);
        MergePeer(violations, "payment", payment?.Report);
        Merge(violations, "", await CrossServiceInvariants.CheckAsync(connection, inventory?.Rows, payment?.Rows, settledBefore, askedAt, ct));
        return TypedResults.Ok(new InvariantReport("ordering", violations, violations.Values.Sum()));
    }

    private static void MergePeer(SortedDictionary<string, long> violations, string service, PeerReport? report)
    {
        if (report is null) violations[$"unreachable.{service}"] = 1;
        else Merge(violations, service + ".", report.Violations);
    }

    private static void Merge(SortedDictionary<string, long> violations, string prefix, IEnumerable<KeyValuePair<string, long>> checks)
    {
        foreach (var (name, count) in checks) violations[prefix + name] = count;
    }
}
