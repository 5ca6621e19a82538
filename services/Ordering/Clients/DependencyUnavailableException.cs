// A dependency could not answer within its resilience budget (breaker open, timed out, or failed after retries).
// Callers turn it into 503 + Retry-After; nothing has been written when it is thrown.
// Doc: docs/failure-modes/circuit-breaker.md
using System.Net;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Timeout;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Clients;

public sealed class DependencyUnavailableException(string dependency, string reason, TimeSpan? retryAfter, string detail, Exception? inner = null)
    : Exception($"{dependency} unavailable ({reason}): {detail}", inner), ReliableShop.Jobs.IRetryAfterHint
{
    public string Dependency { get; } = dependency;

    /// <summary>"circuit-open", "bulkhead-full", "timeout" or "error".</summary>
    public string Reason { get; } = reason;

    /// <summary>When trying again can help: the open breaker's remaining break, or the dependency's Retry-After. A job
    /// failed by this exception is not retried sooner (Jobs.IRetryAfterHint).</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>
    /// One logical call through the client's pipeline (counted as such); its failures become this exception, the
    /// caller's cancellation stays as is.
    /// </summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, string dependency, HttpRequestMessage request,
        OrderingMetrics metrics, CancellationToken ct)
    {
        metrics.CallStarted(dependency);
        try
        {
            return await SendOnceAsync(http, dependency, request, metrics, ct);
        }
        catch (DependencyUnavailableException e)
        {
            metrics.CallFailed(dependency, e.Reason);
            throw;
        }
    }

    private static async Task<HttpResponseMessage> SendOnceAsync(HttpClient http, string dependency, HttpRequestMessage request,
        OrderingMetrics metrics, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request.Started(), ct);
        }
        catch (BrokenCircuitException e)
        {
            metrics.ShortCircuited(dependency);
            throw new DependencyUnavailableException(dependency, "circuit-open", e.RetryAfter, e.Message, e);
        }
        catch (RateLimiterRejectedException e)
        {
            throw new DependencyUnavailableException(dependency, "bulkhead-full", e.RetryAfter, e.Message, e);
        }
        catch (TimeoutRejectedException e)
        {
            throw new DependencyUnavailableException(dependency, "timeout", null, e.Message, e);
        }
        catch (HttpRequestException e)
        {
            throw new DependencyUnavailableException(dependency, "error", null, e.Message, e);
        }
        var status = (int)response.StatusCode;
        if (status >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            var retryAfter = response.Headers.RetryAfter?.Delta;
            response.Dispose();
            throw new DependencyUnavailableException(dependency, "error", retryAfter, $"HTTP {status} after retries");
        }
        return response;
    }
}
