// Payment over HTTP through the pipeline the toggles choose (ClientResilience.cs; section Resilience:Payment).
// Every call is retry-safe: authorize carries an Idempotency-Key (a retry returns the same authorization), capture
// and void are idempotent at Payment. Doc: docs/failure-modes/retry-storm.md
using System.Net;
using System.Net.Http.Json;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Clients;

public enum PaymentOutcome { Done, Conflict, NotFound }

public sealed class PaymentClient(IHttpClientFactory clients, FailureModeToggles toggles, OrderingMetrics metrics, DependencyBulkheads bulkheads)
{
    public const string Dependency = "payment";
    public const string Currency = "EUR";

    /// <summary>Authorizes <paramref name="amount"/>; null when Payment saw <paramref name="idempotencyKey"/> with a different body (422).</summary>
    /// <param name="retryWindow">A caller with a fallback: retry only within this window (ClientResilience.RetryWithin).</param>
    public async Task<Guid?> AuthorizeAsync(string idempotencyKey, Guid orderId, decimal amount, CancellationToken ct, TimeSpan? retryWindow = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments/authorizations")
        {
            Content = JsonContent.Create(new AuthorizeRequest(orderId, amount, Currency)),
        }.Idempotent().RetryWithin(retryWindow);
        // NAIVE (race-conditions: reproduce): a fresh key per call is no key at all. Concurrent duplicate submissions of
        // one order (and every retry) each create an authorization: money is held twice for one order.
        // Control: the key derived from the order's Idempotency-Key, so every duplicate gets the same authorization.
        request.Headers.Add("Idempotency-Key", toggles["race-conditions"].Naive ? $"naive-{Guid.NewGuid():N}" : idempotencyKey);
        using var response = await SendAsync(request, ct);
        if (response.StatusCode == HttpStatusCode.UnprocessableEntity) return null;
        response.EnsureSuccessStatusCode();
        var authorization = await response.Content.ReadFromJsonAsync<AuthorizationResponse>(ct);
        return authorization?.Id ?? throw new InvalidOperationException("Payment answered an authorization without an id.");
    }

    /// <summary>
    /// For a caller with a fallback, before it calls: while this replica's breaker is not closed the call is refused here,
    /// counted as short-circuited — also once the break has run out. There Polly would let the next call through as the
    /// half-open probe, and a customer's placement would wait the whole attempt timeout against a Payment that may still
    /// be failing (the circuit-breaker drill: 4 of 300 contain orders at 2.5 s once the authorize jobs were paced and no
    /// longer took every probe). The probe is left to the PaymentPending authorize jobs: nobody waits on them, and a
    /// placement refused here becomes one.
    /// </summary>
    public void ThrowIfBreakerNotClosed()
    {
        if (metrics.BreakerState(Dependency) == Polly.CircuitBreaker.CircuitState.Closed) return;
        metrics.CallStarted(Dependency);
        metrics.ShortCircuited(Dependency);
        metrics.CallFailed(Dependency, "circuit-open");
        throw new DependencyUnavailableException(Dependency, "circuit-open", null,
            "the breaker is not closed; its half-open probe is left to the authorize jobs");
    }

    /// <summary>True when a call now would be refused by this replica's Payment bulkhead (every permit taken).</summary>
    public bool Saturated => bulkheads.Full(ClientPaths.ClientName(Dependency, ClientPaths.ForPayment(toggles.Current)));

    public Task<PaymentOutcome> CaptureAsync(Guid authorizationId, CancellationToken ct) => ActAsync(authorizationId, "capture", ct);

    public Task<PaymentOutcome> VoidAsync(Guid authorizationId, CancellationToken ct) => ActAsync(authorizationId, "void", ct);

    private async Task<PaymentOutcome> ActAsync(Guid authorizationId, string action, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/payments/authorizations/{authorizationId}/{action}").Idempotent();
        using var response = await SendAsync(request, ct);
        if (response.StatusCode == HttpStatusCode.Conflict) return PaymentOutcome.Conflict;
        if (response.StatusCode == HttpStatusCode.NotFound) return PaymentOutcome.NotFound;
        response.EnsureSuccessStatusCode();
        return PaymentOutcome.Done;
    }

    // The toggles pick the pipeline per call: protected normally and in contain, naive in reproduce (ClientResilience.cs).
    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
        DependencyUnavailableException.SendAsync(
            clients.CreateClient(ClientPaths.ClientName(Dependency, ClientPaths.ForPayment(toggles.Current))), Dependency, request, metrics, ct);

    private sealed record AuthorizeRequest(Guid OrderId, decimal Amount, string Currency);

    private sealed record AuthorizationResponse(Guid Id);
}
