// Registration and admin endpoints of the skip-locked-queue drill: the toggle as the job queue's IJobQueueFaults, the
// drill job kind, and per-instance worker count (GET/PUT /admin/jobs/workers) plus POST /admin/jobs/drill to enqueue.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.AspNetCore.Http.HttpResults;
using ReliableShop.Jobs;

namespace ReliableShop.Ordering.JobQueueDrill;

public static class JobQueueDrillExtensions
{
    public static IServiceCollection AddJobQueueDrill(this IServiceCollection services) => services
        .AddSingleton<IJobQueueFaults, JobQueueToggle>()
        .AddSingleton<ReliableShop.Drills.IDrillStatsSource, JobQueueDrillStats>()
        .AddJobHandler<DrillJob>(DrillJob.Kind);

    public sealed record WorkersRequest(int Workers);

    public static RouteGroupBuilder MapJobQueueDrillAdmin(this RouteGroupBuilder admin)
    {
        // Per instance (each replica has its own pool): the drill calls every instance.
        admin.MapGet("/jobs/workers", (JobWorkers workers) => TypedResults.Ok(new { workers = workers.Limit, inFlight = workers.InFlight }));
        admin.MapPut("/jobs/workers", Results<Ok<object>, ValidationProblem> (WorkersRequest request, JobWorkers workers) =>
        {
            if (request.Workers is < 1 or > JobWorkers.MaxWorkers)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]>
                {
                    ["workers"] = [$"Must be between 1 and {JobWorkers.MaxWorkers}; was {request.Workers}."],
                });
            }
            workers.Limit = request.Workers;
            return TypedResults.Ok<object>(new { workers = workers.Limit });
        });
        admin.MapPost("/jobs/drill", async (int count, int? poisonEvery, Npgsql.NpgsqlDataSource db, CancellationToken ct) =>
            TypedResults.Ok(new { enqueued = await DrillJob.EnqueueAsync(db, Math.Clamp(count, 1, 100_000), poisonEvery ?? 0, ct) }));
        return admin;
    }
}
