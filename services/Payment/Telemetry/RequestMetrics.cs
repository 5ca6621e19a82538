// Counts every request the provider receives, per operation and per caller attempt (X-Attempt header), so a drill
// can compute retry amplification: requests received at Payment ÷ charges the callers wanted.
// Doc: docs/failure-modes/retry-storm.md
using System.Diagnostics.Metrics;
using System.Globalization;

namespace ReliableShop.Payment.Telemetry;

public sealed class RequestMetrics
{
    /// <summary>The original counter (attempt tag = the raw X-Attempt); PaymentStats adds reliableshop.payment.requests.</summary>
    public const string RequestsName = "payment_requests_total";
    public const string AttemptHeader = CallerAttempt.HeaderName;
    private const int MaxAttemptTag = 20; // bounds the tag's cardinality; higher attempts are tagged "more"

    private readonly Counter<long> requests;
    private readonly PaymentStats stats;

    public RequestMetrics(IMeterFactory meterFactory, PaymentStats stats)
    {
        requests = meterFactory.Create(Capacity.CapacityMetrics.MeterName)
            .CreateCounter<long>(RequestsName, "{request}", "Requests received by the payment provider");
        this.stats = stats;
    }

    public void Received(string operation, HttpRequest request)
    {
        requests.Add(1, new("operation", operation), new("attempt", AttemptTag(request.Headers[AttemptHeader].ToString())));
        stats.Received(operation, CallerAttempt.Of(request));
    }

    private static string AttemptTag(string header) =>
        header.Length == 0 ? "none"
        : !int.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) || attempt < 1 ? "invalid"
        : attempt <= MaxAttemptTag ? attempt.ToString(CultureInfo.InvariantCulture) : "more";
}

public static class RequestMetricsExtensions
{
    /// <summary>Requests counted (payment_requests_total) and Payment's /admin/stats section with its reliableshop.payment.* counters.</summary>
    public static IServiceCollection AddPaymentTelemetry(this IServiceCollection services)
    {
        services.AddSingleton<RequestMetrics>();
        services.AddSingleton<PaymentStats>();
        services.AddSingleton<ReliableShop.Drills.IDrillStatsSource>(sp => sp.GetRequiredService<PaymentStats>());
        return services;
    }

    /// <summary>Counts each request to this endpoint under <paramref name="operation"/>, before any validation, fault or queueing.</summary>
    public static RouteHandlerBuilder CountedAs(this RouteHandlerBuilder endpoint, string operation) =>
        endpoint.AddEndpointFilter(async (context, next) =>
        {
            context.HttpContext.RequestServices.GetRequiredService<RequestMetrics>().Received(operation, context.HttpContext.Request);
            return await next(context);
        });
}
