// The shape every client's pipeline has, outermost first: total timeout → retry (exponential + jitter, honours
// Retry-After, idempotent requests only) → circuit breaker → attempt timeout. Each client builds its OWN instance
// (its own breaker) from its own options section; there is no blanket handler shared by all clients.
// Doc: docs/failure-modes/circuit-breaker.md
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Clients;

public static class ClientResilience
{
    private static readonly HttpRequestOptionsKey<bool> IdempotentKey = new("ReliableShop.Idempotent");

    /// <summary>Marks a request safe to retry (a GET, or a POST that the server deduplicates by key).</summary>
    public static HttpRequestMessage Idempotent(this HttpRequestMessage request)
    {
        request.Options.Set(IdempotentKey, true);
        return request;
    }

    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, string dependency,
        ClientResilienceOptions options, OrderingMetrics metrics)
    {
        pipeline
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "total", Timeout = options.TotalTimeout })
            .AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.RetryBaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = true, // a 429/503 Retry-After replaces the computed delay
                ShouldHandle = args => ValueTask.FromResult(
                    IsIdempotent(args.Context) && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
            })
            .AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = options.SamplingDuration,
                BreakDuration = options.BreakDuration,
                OnOpened = _ => Changed(CircuitState.Open),
                OnHalfOpened = _ => Changed(CircuitState.HalfOpen),
                OnClosed = _ => Changed(CircuitState.Closed),
            })
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "attempt", Timeout = options.AttemptTimeout });

        ValueTask Changed(CircuitState state)
        {
            metrics.BreakerChanged(dependency, state);
            return ValueTask.CompletedTask;
        }
    }

    private static bool IsIdempotent(ResilienceContext context) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(IdempotentKey, out var marked) && marked;
}
