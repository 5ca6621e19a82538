// The payment-provider API: authorize (idempotent by Idempotency-Key), capture, void, read. Authorize, capture and
// void each pass through the active faults and the capacity model first (Faults/FaultInjectionFilter), so overload
// shows up as queueing, not as free throughput; the handlers then only record the result.
// Doc: docs/failure-modes/race-conditions.md
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using ReliableShop.Payment.Capacity;
using ReliableShop.Payment.Faults;
using ReliableShop.Payment.Telemetry;

namespace ReliableShop.Payment.Authorizations;

public static class AuthorizationsApi
{
    public const string Prefix = "/api/payments/authorizations";

    public static IEndpointRouteBuilder MapAuthorizationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Prefix).WithTags("Authorizations");
        group.MapPost("/", AuthorizeAsync).CountedAs("authorize").WithPaymentFaults();
        group.MapGet("/{id:guid}", GetAsync).CountedAs("get");                       // reads: no faults, no slot
        // Captures and voids are jobs' (Ordering retries them; no customer waits): they queue behind authorizations.
        group.MapPost("/{id:guid}/capture", CaptureAsync).CountedAs("capture").WithPaymentFaults(ChargePriority.Background);
        group.MapPost("/{id:guid}/void", VoidAsync).CountedAs("void").WithPaymentFaults(ChargePriority.Background);
        return app;
    }

    public static async Task<Results<Created<Authorization>, Ok<Authorization>, ValidationProblem, ProblemHttpResult>> AuthorizeAsync(
        [FromHeader(Name = AuthorizeRequest.IdempotencyKeyHeader)] string? idempotencyKey, AuthorizeRequest request,
        AuthorizationStore store, CancellationToken ct)
    {
        var errors = AuthorizeRequest.Validate(idempotencyKey, request);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        if (await store.AuthorizeAsync(idempotencyKey!, request, ct) is not var (authorization, created))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity,
                title: "Idempotency-Key reused with a different request",
                detail: $"The key '{idempotencyKey}' was first used with a different orderId, amount or currency.");
        }
        return created ? TypedResults.Created($"{Prefix}/{authorization.Id}", authorization) : TypedResults.Ok(authorization);
    }

    public static async Task<Results<Ok<Authorization>, ProblemHttpResult>> GetAsync(Guid id, AuthorizationStore store, CancellationToken ct) =>
        await store.GetAsync(id, ct) is { } authorization ? TypedResults.Ok(authorization) : NotFound(id);

    public static async Task<Results<Ok<Authorization>, ProblemHttpResult>> CaptureAsync(
        Guid id, AuthorizationStore store, CancellationToken ct) =>
        Outcome(id, "capture", await store.CaptureAsync(id, ct));

    public static async Task<Results<Ok<Authorization>, ProblemHttpResult>> VoidAsync(
        Guid id, AuthorizationStore store, CancellationToken ct) =>
        Outcome(id, "void", await store.VoidAsync(id, ct));

    private static Results<Ok<Authorization>, ProblemHttpResult> Outcome(
        Guid id, string operation, (TransitionOutcome Outcome, Authorization? Authorization) result) => result switch
    {
        (TransitionOutcome.Done, { } authorization) => TypedResults.Ok(authorization),
        (TransitionOutcome.Conflict, { } authorization) => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict,
            title: $"Cannot {operation} an authorization that is {authorization.Status}",
            detail: $"Authorization {id} is {authorization.Status}."),
        _ => NotFound(id),
    };

    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Authorization not found", detail: $"No authorization {id}.");
}
