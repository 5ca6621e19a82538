// Counts every request the provider receives, per operation and per caller attempt (X-Attempt header), so a drill
// can compute retry amplification: requests received at Payment ÷ charges the callers wanted.
// Doc: docs/failure-modes/retry-storm.md
using System.Diagnostics.Metrics;
using System.Globalization;

namespace ReliableShop.Payment.Telemetry;

public sealed class RequestMetrics
{
    public const string RequestsName = "payment_requests_total";
    public const string AttemptHeader = "X-Attempt";
    private const int MaxAttemptTag = 20; // bounds the tag's cardinality; higher attempts are tagged "more"

    private readonly Counter<long> requests;

    public RequestMetrics(IMeterFactory meterFactory) =>
        requests = meterFactory.Create(Capacity.CapacityMetrics.MeterName)
            .CreateCounter<long>(RequestsName, "{request}", "Requests received by the payment provider");

    public void Received(string operation, HttpRequest request) =>
        requests.Add(1, new("operation", operation), new("attempt", AttemptTag(request.Headers[AttemptHeader].ToString())));

    private static string AttemptTag(string header) =>
        header.Length == 0 ? "none"
        : !int.TryParse(header, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt) || attempt < 1 ? "invalid"
        : attempt <= MaxAttemptTag ? attempt.ToString(CultureInfo.InvariantCulture) : "more";
}

public static class RequestMetricsExtensions
{
    /// <summary>Counts each request to this endpoint under <paramref name="operation"/>, before any validation or queueing.</summary>
    public static RouteHandlerBuilder CountedAs(this RouteHandlerBuilder endpoint, string operation) =>
        endpoint.AddEndpointFilter(async (context, next) =>
        {
            context.HttpContext.RequestServices.GetRequiredService<RequestMetrics>().Received(operation, context.HttpContext.Request);
            return await next(context);
        });
}
