// Operator actions on Ordering behind the admin key: outbox and job dead-letter replays. The drill KPIs are on
// GET /admin/stats (ServiceDefaults/Drills), with the sections registered in OrderingStats.cs. Doc: docs/architecture.md
using Microsoft.AspNetCore.Http.HttpResults;
using ReliableShop.Jobs;
using ReliableShop.Ordering.JobQueueDrill;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Admin;

public static class OrderingAdminApi
{
    public static IEndpointRouteBuilder MapOrderingAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapAdminGroup().WithTags("Admin");
        admin.MapPost("/outbox/replay", async (Guid? messageId, OutboxAdmin outbox, CancellationToken ct) =>
            TypedResults.Ok(new { requeued = await outbox.ReplayDeadAsync(messageId, ct) }));
        admin.MapPost("/jobs/requeue", async (long? jobId, JobsAdmin jobs, CancellationToken ct) =>
            TypedResults.Ok(new { requeued = await jobs.RequeueDeadAsync(jobId, ct) }));
        admin.MapPost("/error-queues/{queue}/replay", async (string queue, Fulfilment.ErrorQueues errors, CancellationToken ct) =>
            Fulfilment.ErrorQueues.Queues.Contains(queue)
                ? Results.Ok(new { replayed = await errors.ReplayAsync(queue, ct) })
                : Results.NotFound());
        admin.MapJobQueueDrillAdmin();                             // JobQueueDrill/: workers at runtime, drill jobs
        return app;
    }
}
