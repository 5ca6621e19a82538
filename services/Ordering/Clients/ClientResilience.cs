// How Ordering calls a dependency, as resilience pipelines built side by side. Each client builds its OWN instances
// (its own breaker, its own budget) from its own options section; there is no blanket handler shared by all clients.
// The failure-mode toggles choose the path per call (ClientPaths): the protected pipeline normally and in `contain`,
// the naive one in `reproduce` of retry-storm, retry-budget, circuit-breaker, timeouts-cascade and overload.
// Doc: docs/failure-modes/circuit-breaker.md, retry-storm.md, retry-budget.md
using Microsoft.Extensions.Http.Resilience;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Telemetry;
using ReliableShop.RetryBudget;

namespace ReliableShop.Ordering.Clients;

/// <summary>The pipeline a call takes.</summary>
public enum ClientPath
{
    /// <summary>Every control: deadline, one retry layer with backoff + jitter + Retry-After under a budget, breaker, bulkhead.</summary>
    Protected,

    /// <summary>The protected pipeline without its breaker: what the retry budget alone holds (retry-budget drill, contain).</summary>
    BudgetOnly,

    /// <summary>Timeouts and a per-request retry cap, nothing else (reproduce).</summary>
    Naive,
}

public static class ClientPaths
{
    /// <summary>
    /// The path of a Payment call under the current toggles: naive in reproduce of every mode whose naive code is
    /// "timeouts (and per-request retries) only" — and of overload, whose naive system has no backpressure anywhere.
    /// </summary>
    public static ClientPath ForPayment(FailureModeSnapshot modes)
    {
        if (modes["retry-storm"].Naive || modes["retry-budget"].Naive || modes["circuit-breaker"].Naive || modes["timeouts-cascade"].Naive
            || modes["overload"].Naive)
        {
            return ClientPath.Naive;
        }
        return modes["retry-budget"].State == FailureModeState.Contain ? ClientPath.BudgetOnly : ClientPath.Protected;
    }

    /// <summary>
    /// The path of an Inventory call: protected, except in overload's reproduce. There the bulkhead, breaker and budget
    /// would shed the excess at the dependency — backpressure the naive system does not have: its calls queue on the
    /// HttpClient pool and retry at once, like every other queue of an overloaded service.
    /// </summary>
    public static ClientPath ForInventory(FailureModeSnapshot modes) => modes["overload"].Naive ? ClientPath.Naive : ClientPath.Protected;

    public static string ClientName(string dependency, ClientPath path) => path switch
    {
        ClientPath.Protected => dependency,
        _ => $"{dependency}-{path.ToString().ToLowerInvariant()}",
    };
}

public static class ClientResilience
{
    private static readonly HttpRequestOptionsKey<bool> IdempotentKey = new("ReliableShop.Idempotent");

    /// <summary>Marks a request safe to retry (a GET, or a POST that the server deduplicates by key).</summary>
    public static HttpRequestMessage Idempotent(this HttpRequestMessage request)
    {
        request.Options.Set(IdempotentKey, true);
        return request;
    }

    public static void Configure(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, string dependency, ClientPath path,
        ClientResilienceOptions options, OrderingMetrics metrics, RetryBudget.RetryBudget budget, FailureModeToggles toggles,
        DependencyBulkheads bulkheads)
    {
        if (path == ClientPath.Naive)
        {
            ConfigureNaive(pipeline, toggles);
            return;
        }

        // PROTECTED — outermost first. Guarantees: one logical call never takes longer than TotalTimeout; only
        // idempotent requests are retried, with exponential backoff + jitter (no synchronised waves), honouring
        // Retry-After, and only while the retry budget allows (fleet-wide retries ≤ Percent % of requests + a floor);
        // a retry is never scheduled past the deadline (or a caller's shorter retry window); the breaker (with the
        // attempt timeout INSIDE it, so a slow call counts as a failure) short-circuits a failing dependency; the
        // bulkhead bounds concurrent calls, so a slow dependency cannot absorb every request thread.
        var deadline = options.TotalTimeout;
        pipeline.AddTimeout(new HttpTimeoutStrategyOptions { Name = "total", Timeout = deadline });
        // MaxRetryAttempts 0 means no retry strategy at all: Polly requires ≥ 1 and would fail the first call (500).
        if (options.MaxRetryAttempts > 0)
        {
            pipeline.AddRetry(new HttpRetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetryAttempts,
                Delay = options.RetryBaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldRetryAfterHeader = true, // a 429/503 Retry-After replaces the computed delay
                ShouldHandle = args => ValueTask.FromResult(IsIdempotent(args.Context)
                    && HttpClientResiliencePredicates.IsTransient(args.Outcome)
                    && !RetryPassesDeadline(args.Outcome, args.Context, deadline)),
                OnRetry = _ =>
                {
                    metrics.RetryScheduled(dependency);
                    return ValueTask.CompletedTask;
                },
            }.WithBudget(budget, () => metrics.RetryBudgetExhausted(dependency)));
        }
        if (path == ClientPath.Protected)
        {
            pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = options.SamplingDuration,
                BreakDuration = options.BreakDuration,
                OnOpened = _ => Changed(CircuitState.Open),
                OnHalfOpened = _ => Changed(CircuitState.HalfOpen),
                OnClosed = _ => Changed(CircuitState.Closed),
            });
        }
        pipeline
            .AddRateLimiter(bulkheads.For(ClientPaths.ClientName(dependency, path), options))
            .AddTimeout(new HttpTimeoutStrategyOptions { Name = "attempt", Timeout = options.AttemptTimeout });

        ValueTask Changed(CircuitState state)
        {
            metrics.BreakerChanged(dependency, state);
            return ValueTask.CompletedTask;
        }
    }

    // NAIVE — what "we have timeouts and retries" usually means. What it does wrong: every failed attempt is retried
    // at once (no backoff, no jitter: the retries of many callers arrive as synchronised waves), Retry-After is
    // ignored, nothing caps retries fleet-wide (r retries per request ⇒ (r + 1) × load exactly when the dependency is
    // weakest), and there is no breaker, so a dead or slow dependency costs timeout × attempts on EVERY call. With
    // retry-storm its attempt timeout is shorter than the degraded latency, so every attempt fails and is retried.
    private static void ConfigureNaive(ResiliencePipelineBuilder<HttpResponseMessage> pipeline, FailureModeToggles toggles)
    {
        pipeline
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = 10, // the catalogue's upper bound; ShouldHandle applies the mode's own count
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                ShouldHandle = args => ValueTask.FromResult(args.AttemptNumber < NaiveRetries(toggles.Current)
                    && IsIdempotent(args.Context) && HttpClientResiliencePredicates.IsTransient(args.Outcome)),
            })
            .AddTimeout(new TimeoutStrategyOptions { TimeoutGenerator = _ => ValueTask.FromResult(NaiveAttemptTimeout(toggles.Current)) });
    }

    /// <summary>Naive retries per request: retry-storm's "retries" while it reproduces, else the common "3 retries".</summary>
    public static int NaiveRetries(FailureModeSnapshot modes) =>
        modes["retry-storm"].Naive ? (int)modes["retry-storm"]["retries"] : 3;

    /// <summary>retry-storm: an attempt timeout below the degraded latency; otherwise a long one (10 s), as found in the wild.</summary>
    public static TimeSpan NaiveAttemptTimeout(FailureModeSnapshot modes) =>
        modes["retry-storm"].Naive ? TimeSpan.FromMilliseconds(modes["retry-storm"]["attemptTimeoutMs"]) : TimeSpan.FromSeconds(10);

    // A retry that would start past the call's deadline is not scheduled: it could only time out, after adding load.
    // The deadline is the client's TotalTimeout, or the caller's shorter retry window (RetryWithin) when it has a
    // fallback; the wait counted is the dependency's Retry-After (the computed backoff is short next to both). The
    // call's start is stamped by Started().
    private static bool RetryPassesDeadline(Outcome<HttpResponseMessage> outcome, ResilienceContext context, TimeSpan deadline)
    {
        if (context.GetRequestMessage() is not { } request || !request.Options.TryGetValue(CallStartedKey, out var started)) return false;
        if (request.Options.TryGetValue(RetryWindowKey, out var window) && window < deadline) deadline = window;
        var wait = outcome.Result?.Headers.RetryAfter?.Delta ?? TimeSpan.Zero;
        return TimeProvider.System.GetElapsedTime(started) + wait >= deadline;
    }

    private static readonly HttpRequestOptionsKey<long> CallStartedKey = new("ReliableShop.CallStarted");
    private static readonly HttpRequestOptionsKey<TimeSpan> RetryWindowKey = new("ReliableShop.RetryWindow");

    /// <summary>Stamps the start of the logical call (a Stopwatch timestamp) for the deadline check of a retry.</summary>
    public static HttpRequestMessage Started(this HttpRequestMessage request)
    {
        request.Options.Set(CallStartedKey, TimeProvider.System.GetTimestamp());
        return request;
    }

    /// <summary>
    /// For a caller with a fallback: retries only while they start within <paramref name="window"/> of the call, so an
    /// answer that asks for a longer wait (Retry-After) ends the call and the caller falls back at once.
    /// </summary>
    public static HttpRequestMessage RetryWithin(this HttpRequestMessage request, TimeSpan? window)
    {
        if (window is { } w) request.Options.Set(RetryWindowKey, w);
        return request;
    }

    private static bool IsIdempotent(ResilienceContext context) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(IdempotentKey, out var marked) && marked;
}
