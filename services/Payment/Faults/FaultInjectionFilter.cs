// Applies the FaultPlan to authorize, capture and void — never to reads, /admin or /health — and then makes the
// charge at the simulated provider (a capacity slot). Order: answers given at once (no slot), retry shedding, latency,
// slow failures, the charge. Every fault answers 503/429 ProblemDetails (Retry-After when it asks for time). Doc: docs/failure-modes/README.md
using ReliableShop.Payment.Capacity;
using ReliableShop.Payment.Telemetry;

namespace ReliableShop.Payment.Faults;

public sealed class FaultInjectionFilter(
    PaymentFaults faults, SimulatedProvider provider, CapacityModel capacity, PaymentStats stats, TimeProvider time) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var attempt = CallerAttempt.Of(http.Request);
        var plan = faults.Plan();
        if (plan.RejectNow is { } atOnce) return Reject(http, atOnce);
        // retry-storm — reproduce: retries queue like everything else and keep the overload going.
        //               contain:   once the queue is as long as the slots, a retry is shed first (503 + Retry-After),
        //                          so the remaining capacity goes to first attempts.
        if (plan.ShedRetriesWhenSaturated && attempt > 1 && capacity.Queued >= capacity.Slots) return Reject(http, ShedRetry);
        // timeouts-cascade — reproduce: the caller's cancellation reaches nothing below (queue, service time, SQL),
        //                               so work the caller abandoned still holds its slot and still commits.
        //                    contain:   RequestAborted reaches all of it; a caller that gave up frees its slot at once.
        var ct = plan.IgnoreCancellation ? CancellationToken.None : http.RequestAborted;
        if (plan.IgnoreCancellation) ReplaceCancellationTokens(context);
        if (plan.Latency > TimeSpan.Zero)
        {
            var delay = Task.Delay(plan.Latency, time, ct); // timer first, count second: a test advancing a fake clock
            stats.Fault(FaultKind.Latency);                 // after seeing the count cannot miss the timer
            await delay;
        }
        if (plan.RejectAfterLatency is { } slowFailure) return Reject(http, slowFailure);
        var priority = http.GetEndpoint()?.Metadata.GetMetadata<ChargeLine>()?.Priority ?? ChargePriority.Interactive;
        if (!await provider.ChargeAsync(plan, priority, ct))
        {
            return Reject(http, FaultRejection.Unavailable(FaultKind.ProviderTimeout, "Payment provider timed out",
                $"retry-storm: {1 + plan.ProviderRetries} attempt(s), each over {plan.AttemptTimeout?.TotalMilliseconds} ms."));
        }
        var result = await next(context);
        stats.Charged(callerGone: http.RequestAborted.IsCancellationRequested); // goodput, or capacity spent on no one
        return result;
    }

    private static readonly FaultRejection ShedRetry = FaultRejection.Unavailable(FaultKind.ShedRetry,
        "Payment is saturated: retries are shed first", "retry-storm: the queue is full; retry after the Retry-After delay.");

    private IResult Reject(HttpContext http, FaultRejection rejection)
    {
        stats.Fault(rejection.Kind);
        if (rejection.RetryAfterSeconds > 0)
        {
            http.Response.Headers.RetryAfter = rejection.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return TypedResults.Problem(rejection.Detail, statusCode: rejection.StatusCode, title: rejection.Title);
    }

    private static void ReplaceCancellationTokens(EndpointFilterInvocationContext context)
    {
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            if (context.Arguments[i] is CancellationToken) context.Arguments[i] = CancellationToken.None;
        }
    }
}

public static class FaultInjectionExtensions
{
    public static IServiceCollection AddPaymentFaults(this IServiceCollection services)
    {
        services.AddKeyedSingleton(PaymentFaults.RandomKey, (_, _) => new Random());
        services.AddSingleton<QuotaBucket>();
        services.AddSingleton<PaymentFaults>();
        services.AddSingleton<SimulatedProvider>();
        return services;
    }

    /// <summary>Puts this endpoint behind the fault plan and the simulated provider's capacity slot, in the line of
    /// <paramref name="priority"/>: interactive when a customer waits on the answer, background when a job does.</summary>
    public static RouteHandlerBuilder WithPaymentFaults(this RouteHandlerBuilder endpoint, ChargePriority priority = ChargePriority.Interactive) =>
        endpoint.WithMetadata(new ChargeLine(priority)).AddEndpointFilter<FaultInjectionFilter>();
}

/// <summary>Endpoint metadata: which line of the capacity slots this endpoint's charges wait in.</summary>
public sealed record ChargeLine(ChargePriority Priority);
