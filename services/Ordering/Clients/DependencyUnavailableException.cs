// A dependency could not answer within its resilience budget (breaker open, timed out, or failed after retries).
// Callers turn it into 503 + Retry-After; nothing has been written when it is thrown.
// Doc: docs/failure-modes/circuit-breaker.md
using System.Net;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace ReliableShop.Ordering.Clients;

public sealed class DependencyUnavailableException(string dependency, string reason, TimeSpan? retryAfter, string detail, Exception? inner = null)
    : Exception($"{dependency} unavailable ({reason}): {detail}", inner)
{
    public string Dependency { get; } = dependency;

    /// <summary>"circuit-open", "timeout" or "error".</summary>
    public string Reason { get; } = reason;

    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>Sends through the client's pipeline; its failures become this exception, caller cancellation stays as is.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient http, string dependency, HttpRequestMessage request, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (BrokenCircuitException e)
        {
            throw new DependencyUnavailableException(dependency, "circuit-open", e.RetryAfter, e.Message, e);
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
