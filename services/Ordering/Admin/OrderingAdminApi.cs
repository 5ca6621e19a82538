// Operator view of Ordering behind the admin key: the drill KPIs as JSON (the same numbers the metrics export) and
// the outbox/job dead-letter replays. Doc: docs/architecture.md
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Telemetry;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Admin;

public static class OrderingAdminApi
{
    // Invariant read by drills: more than one order per Idempotency-Key is impossible by constraint; this proves it.
    private const string DuplicateOrdersSql = "SELECT count(*) - count(DISTINCT idempotency_key) FROM orders";

    public static IEndpointRouteBuilder MapOrderingAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapAdminGroup().WithTags("Admin");
        admin.MapGet("/stats", GetStatsAsync);
        admin.MapPost("/outbox/replay", async (Guid? messageId, OutboxAdmin outbox, CancellationToken ct) =>
            TypedResults.Ok(new { requeued = await outbox.ReplayDeadAsync(messageId, ct) }));
        admin.MapPost("/jobs/requeue", async (long? jobId, JobsAdmin jobs, CancellationToken ct) =>
            TypedResults.Ok(new { requeued = await jobs.RequeueDeadAsync(jobId, ct) }));
        return app;
    }

    public sealed record StatsResponse(OrderingStats Ordering, OutboxStats Outbox, JobQueueStats Jobs, long DuplicateOrders);

    public static async Task<Ok<StatsResponse>> GetStatsAsync(
        OrderingMetrics metrics, OutboxAdmin outbox, JobsAdmin jobs, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var duplicates = db.CreateCommand(DuplicateOrdersSql);
        var duplicateOrders = (long)(await duplicates.ExecuteScalarAsync(ct))!;
        return TypedResults.Ok(new StatsResponse(
            metrics.Snapshot(), await outbox.GetStatsAsync(ct), await jobs.GetStatsAsync(ct), duplicateOrders));
    }
}
