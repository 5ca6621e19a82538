// Admission control on Ordering's routes: the door, before any body is read or dependency called.
//
//   overload / timeouts-cascade — reproduce (NAIVE): no limiter at all. What it does wrong: every request that
//     arrives is admitted, so in-flight work grows with arrival rate × latency (Little's law) until the DB pool,
//     HTTP connections and threads are full, latency passes every client's timeout, and the work completed for
//     callers that already gave up is wasted: throughput stays high while goodput collapses.
//   contain (and normally): guarantees —
//     * POST /api/orders: at most PermitLimit placements run at once, QueueLimit wait (oldest first), the rest are
//       shed at once with 503 + Retry-After; a request that waited longer than MaxQueueWait is dropped (503) when it
//       finally gets its permit — its caller has given up, doing its work would only be wasted;
//     * per client (X-Client-Id, else the remote address) a token bucket: above it, 429 + Retry-After;
//     * reads (GET /api/orders/{id}) have their own partition, so a write backlog can never take their permits;
//     * overload contain: while the door is refusing, a placement is also shed when the work already admitted is behind
//       (FollowUpBacklog.cs): the pipeline's pace, not only the synchronous part's, sets what is admitted.
// Doc: docs/failure-modes/overload.md, docs/failure-modes/timeouts-cascade.md
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Admission;

public static class AdmissionControl
{
    public const string OrdersWritePolicy = "orders-write";
    public const string OrdersReadPolicy = "orders-read";
    private const string ArrivalKey = "ReliableShop.Arrival";

    /// <summary>True when overload or timeouts-cascade reproduces: the naive path, no limiter at the door.</summary>
    public static bool Unlimited(FailureModeSnapshot modes) => modes["overload"].Naive || modes["timeouts-cascade"].Naive;

    public static IServiceCollection AddAdmission(this IServiceCollection services)
    {
        services.AddValidatedOptions<AdmissionOptions>(AdmissionOptions.SectionName);
        services.AddSingleton<FollowUpBacklog>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<AdmissionOptions>, FailureModeToggles>((limiter, admission, toggles) =>
        {
            var limits = admission.Value;
            limiter.AddPolicy(OrdersWritePolicy, http => Unlimited(toggles.Current)
                ? RateLimitPartition.GetNoLimiter("unlimited")
                : RateLimitPartition.GetConcurrencyLimiter(OrdersWritePolicy, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = limits.PermitLimit,
                    QueueLimit = limits.QueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }));
            limiter.AddPolicy(OrdersReadPolicy, http => Unlimited(toggles.Current)
                ? RateLimitPartition.GetNoLimiter("unlimited")
                : RateLimitPartition.GetConcurrencyLimiter(OrdersReadPolicy, _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = limits.ReadPermitLimit,
                    QueueLimit = limits.ReadQueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }));
            // Per-client fairness on order placement: one client's burst cannot take every permit from the others.
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                Unlimited(toggles.Current) || !IsOrderPlacement(http.Request)
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetTokenBucketLimiter(ClientOf(http), _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = limits.PerClientBurst,
                        TokensPerPeriod = limits.PerClientPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    }));
            limiter.OnRejected = (context, _) => RejectAsync(context.HttpContext, context.Lease, limits.RetryAfterSeconds);
        });
        return services;
    }

    /// <summary>Stamps each request's arrival (for the queue time), then applies the limiters.</summary>
    public static IApplicationBuilder UseAdmission(this IApplicationBuilder app) => app
        .Use((http, next) =>
        {
            http.Items[ArrivalKey] = TimeProvider.System.GetTimestamp();
            return next(http);
        })
        .UseRateLimiter();

    /// <summary>The write policy, plus the in-flight gauge and the drop of requests that queued past MaxQueueWait.</summary>
    public static TBuilder RequireAdmission<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder
    {
        endpoint.RequireRateLimiting(OrdersWritePolicy);
        endpoint.Add(builder => builder.FilterFactories.Add((_, next) => async invocation =>
        {
            var http = invocation.HttpContext;
            var services = http.RequestServices;
            var metrics = services.GetRequiredService<OrderingMetrics>();
            var waited = http.Items[ArrivalKey] is long arrival ? TimeProvider.System.GetElapsedTime(arrival) : TimeSpan.Zero;
            metrics.AdmissionQueued(waited);
            var (limits, modes) = (services.GetRequiredService<IOptions<AdmissionOptions>>().Value, services.GetRequiredService<FailureModeToggles>().Current);
            if (waited > limits.MaxQueueWait && !Unlimited(modes))
            {
                metrics.AdmissionDroppedStale();
                return Shed(http, "Waited too long for admission",
                    $"Queued {waited.TotalMilliseconds:0} ms (> {limits.MaxQueueWait.TotalMilliseconds:0} ms): the caller has likely given up; nothing was done.",
                    StatusCodes.Status503ServiceUnavailable, 1);
            }
            if (CountsFollowUp(modes) && services.GetRequiredService<FollowUpBacklog>() is { } backlog && backlog.IsBehind())
            {
                metrics.AdmissionFollowUpShed();
                return Shed(http, "Orders already taken are behind",
                    $"The oldest order still waiting for its reservation or capture is {backlog.Lag.TotalMilliseconds:0} ms old " +
                    $"(shedding {backlog.ShedShare(backlog.Lag):P0} of placements: none under {backlog.ShedFrom.TotalMilliseconds:0} ms, all from " +
                    $"{limits.MaxFollowUpLag.TotalMilliseconds:0} ms) while the door is refusing: nothing was done.",
                    StatusCodes.Status503ServiceUnavailable, limits.RetryAfterSeconds);
            }
            using var inFlight = metrics.WriteStarted();
            return await next(invocation);
        }));
        return endpoint;
    }

    /// <summary>True when overload contains: the door also counts the follow-up work it admitted (FollowUpBacklog.cs).</summary>
    private static bool CountsFollowUp(FailureModeSnapshot modes) => modes["overload"].State == FailureModeState.Contain;

    public static TBuilder RequireReadAdmission<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireRateLimiting(OrdersReadPolicy);

    private static bool IsOrderPlacement(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.Path.StartsWithSegments("/api/orders", out var rest) && !rest.HasValue;

    private static string ClientOf(HttpContext http) =>
        http.Request.Headers["X-Client-Id"] is [{ Length: > 0 and <= 64 } id] ? "client:" + id : "ip:" + http.Connection.RemoteIpAddress;

    private static async ValueTask RejectAsync(HttpContext http, RateLimitLease lease, int retryAfterSeconds)
    {
        var metrics = http.RequestServices.GetRequiredService<OrderingMetrics>();
        // Only the token bucket knows when the next token comes: its rejection is the client's rate (429); a
        // concurrency rejection is our capacity (503).
        var result = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Shed(http, "Too many requests from this client", "Per-client rate limit; slow down.",
                StatusCodes.Status429TooManyRequests, Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)))
            : Shed(http, "Too many requests in flight", $"Admission control shed this request; retry after {retryAfterSeconds} s.",
                StatusCodes.Status503ServiceUnavailable, retryAfterSeconds);
        if (http.Response.StatusCode == StatusCodes.Status429TooManyRequests) metrics.AdmissionRateLimited();
        else
        {
            metrics.AdmissionRejected();
            http.RequestServices.GetRequiredService<FollowUpBacklog>().DoorRefused();
        }
        await result.ExecuteAsync(http);
        // The door's own time for a refusal: arrival to answer written, no client or network in it — where the catalogue's
        // "rejections p99 ≤ 20 ms" belongs once the load generator runs elsewhere (reliableshop.ordering.admission.shed_time).
        if (http.Items[ArrivalKey] is long arrival) metrics.AdmissionShed(TimeProvider.System.GetElapsedTime(arrival));
    }

    private static IResult Shed(HttpContext http, string title, string detail, int status, int retryAfterSeconds)
    {
        http.Response.StatusCode = status;
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(title: title, detail: detail, statusCode: status);
    }
}
