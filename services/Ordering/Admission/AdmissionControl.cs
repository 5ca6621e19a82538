// Admission control: at most PermitLimit order placements run at once and QueueLimit wait; the rest are shed at the
// door with 503 + Retry-After (cheap, before any body is read or dependency called) instead of queueing without
// bound until every caller times out. Reads are not behind it. Doc: docs/failure-modes/overload.md
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Admission;

public static class AdmissionControl
{
    public const string OrdersWritePolicy = "orders-write";

    public static IServiceCollection AddAdmission(this IServiceCollection services)
    {
        services.AddValidatedOptions<AdmissionOptions>(AdmissionOptions.SectionName);
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<AdmissionOptions>>((limiter, admission) =>
        {
            var limits = admission.Value;
            limiter.AddConcurrencyLimiter(OrdersWritePolicy, o =>
            {
                o.PermitLimit = limits.PermitLimit;
                o.QueueLimit = limits.QueueLimit;
                o.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
            });
            limiter.OnRejected = (context, _) => RejectAsync(context.HttpContext, limits.RetryAfterSeconds);
        });
        return services;
    }

    public static TBuilder RequireAdmission<TBuilder>(this TBuilder endpoint) where TBuilder : IEndpointConventionBuilder =>
        endpoint.RequireRateLimiting(OrdersWritePolicy);

    private static async ValueTask RejectAsync(HttpContext http, int retryAfterSeconds)
    {
        http.RequestServices.GetRequiredService<OrderingMetrics>().AdmissionRejected();
        http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        var problem = TypedResults.Problem(
            title: "Too many orders in flight",
            detail: $"Admission control shed this request; retry after {retryAfterSeconds} s.",
            statusCode: StatusCodes.Status503ServiceUnavailable);
        await problem.ExecuteAsync(http);
    }
}
