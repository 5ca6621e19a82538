// Sits BELOW the resilience handler, so it runs once per attempt: stamps X-Attempt (1 = first) on the outgoing
// request and counts attempts per dependency — the raw numbers behind retry amplification.
// Doc: docs/failure-modes/retry-storm.md
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Clients;

public sealed class AttemptHeaderHandler(string dependency, OrderingMetrics metrics) : DelegatingHandler
{
    public const string HeaderName = "X-Attempt";
    private static readonly HttpRequestOptionsKey<int> AttemptKey = new("ReliableShop.Attempt");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // The retry strategy re-sends the same HttpRequestMessage, so the count lives on the request itself.
        var attempt = request.Options.TryGetValue(AttemptKey, out var previous) ? previous + 1 : 1;
        request.Options.Set(AttemptKey, attempt);
        request.Headers.Remove(HeaderName);
        request.Headers.Add(HeaderName, attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        metrics.AttemptSent(dependency, attempt);
        return base.SendAsync(request, cancellationToken);
    }
}
