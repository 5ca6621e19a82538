// POST /api/orders: validate → shed if only a refusal is left → replay if the key is known → prices (Inventory) →
// authorize (Payment, keyed, outside any transaction) → ONE short transaction (order + lines + history + outbox) → 201;
// Payment unavailable ⇒ 202 PaymentPending (the circuit-breaker fallback). Retries and concurrent duplicates of one
// Idempotency-Key get the same order; nothing is written for a request that fails validation.
// Doc: docs/failure-modes/race-conditions.md
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Admission;
using ReliableShop.Ordering.Clients;
using ReliableShop.Ordering.Telemetry;
using PlaceResult = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Created<ReliableShop.Ordering.Orders.OrderResponse>,
    Microsoft.AspNetCore.Http.HttpResults.Accepted<ReliableShop.Ordering.Orders.OrderResponse>,
    Microsoft.AspNetCore.Http.HttpResults.Ok<ReliableShop.Ordering.Orders.OrderResponse>,
    Microsoft.AspNetCore.Http.HttpResults.ValidationProblem,
    Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>;

namespace ReliableShop.Ordering.Orders;

public static class OrdersApi
{
    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/api/orders").WithTags("Orders");
        orders.MapPost("/", PlaceAsync).RequireAdmission().WithBodyLimit()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        orders.MapGet("/{id:guid}", GetAsync).RequireReadAdmission(); // reads: their own partition, never behind writes
        return app;
    }

    public sealed record PlaceOrderDependencies(
        HttpContext Http, NpgsqlDataSource Db, InventoryClient Inventory, PaymentClient Payment,
        IOptions<OrdersOptions> Options, TimeProvider Time, OrderingMetrics Metrics, FailureModeToggles Toggles);

    public static async Task<PlaceResult> PlaceAsync(
        [FromBody] PlaceOrderRequest? request, [FromHeader(Name = PlaceOrderRules.IdempotencyKeyHeader)] string? idempotencyKey,
        [AsParameters] PlaceOrderDependencies deps, CancellationToken ct)
    {
        var errors = PlaceOrderRules.Check(request, idempotencyKey, deps.Options.Value);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var (key, hash) = (idempotencyKey!, OrderIdentity.RequestHash(request!));
        // timeouts-cascade — reproduce (NAIVE): the caller's cancellation is not passed on. When the client gives up,
        //   Ordering keeps calling Payment and holding its connection for nobody: abandoned work piles up downstream.
        // contain (and normally): RequestAborted AND the request deadline flow into HttpClient and Npgsql, so work
        //   stops when the caller leaves or the deadline passes.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(deps.Options.Value.RequestDeadline);
        var downstream = deps.Toggles["timeouts-cascade"].Naive ? CancellationToken.None : deadline.Token;
        try
        {
            // Shed first, before even the replay lookup: a request that can only be refused is refused without work.
            await OrderPlacement.ShedIfOnlyRefusalIsLeftAsync(deps, downstream);
            // Replay fast path: a retried request is answered from the database; no dependency is called again.
            if (await OrderQueries.FindByKeyAsync(deps.Db, key, downstream) is { } stored) return await ReplayAsync(deps, stored, hash, downstream);
            return await PlaceNewAsync(request!, key, hash, deps, downstream);
        }
        catch (DependencyUnavailableException e)
        {
            return Unavailable(deps.Http, e);
        }
        // The deadline passed. Npgsql reports a cancellation that had to break the connection mid-read as an
        // NpgsqlException (IOException inside), not as OperationCanceledException: seen as a 500 in the overload drill.
        catch (Exception e) when ((e is OperationCanceledException or NpgsqlException) && deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            return Unavailable(deps.Http, new DependencyUnavailableException("deadline", "deadline-exceeded", TimeSpan.FromSeconds(1),
                $"Not placed within {deps.Options.Value.RequestDeadline.TotalMilliseconds:0} ms; nothing was written.", e));
        }
    }

    public static async Task<Results<Ok<OrderResponse>, ProblemHttpResult>> GetAsync(Guid id, NpgsqlDataSource db, CancellationToken ct) =>
        await OrderQueries.LoadAsync(db, id, ct) is { } order
            ? TypedResults.Ok(order)
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Order not found", detail: $"No order {id}.");

    private static async Task<PlaceResult> PlaceNewAsync(
        PlaceOrderRequest request, string key, string hash, PlaceOrderDependencies deps, CancellationToken ct)
    {
        var items = request.Items!.Select(i => i!).ToList();
        var prices = await deps.Inventory.GetPricesAsync(items.Select(i => i.Sku!), ct);
        var unknown = items.Select((item, i) => (item, i)).Where(x => !prices.ContainsKey(x.item.Sku!))
            .ToDictionary(x => $"items[{x.i}].sku", x => new[] { $"Unknown SKU '{x.item.Sku}'." });
        if (unknown.Count > 0) return TypedResults.ValidationProblem(unknown);

        var lines = items.Select(i => new OrderLineResponse(i.Sku!, i.Quantity, prices[i.Sku!])).ToList();
        var order = new NewOrder(OrderIdentity.OrderIdFor(key), key, hash, request.CustomerId!,
            Math.Round(lines.Sum(l => l.Quantity * l.UnitPrice), 2), Guid.Empty, lines) { CartId = request.CartId };
        // load-only-bugs: one order per cart (Orders/CartCheckout.cs) — a second submission of the cart gets its order.
        var cart = await CartCheckout.BeginAsync(deps.Db, deps.Toggles, order, deps.Time, ct);
        if (cart.ExistingOrderId is { } existing) return await ReplayCartAsync(deps, existing, ct);
        if (!cart.Proceed) return CartInProgress(deps.Http);
        // Payment is called BEFORE the transaction opens: a pooled connection held across the remote call would let a
        // slow Payment exhaust the pool (docs/failure-modes/pool-exhaustion.md). Its key makes the retry safe.
        // Orders/OrderPlacement.cs: that control, or the naive held transaction (HeldConnectionPlacement.cs) in reproduce.
        PlacementOutcome outcome;
        try
        {
            outcome = await OrderPlacement.PlaceAsync(deps, order, ct);
        }
        catch
        {
            await CartCheckout.ReleaseAsync(deps.Db, order);
            throw;
        }
        if (outcome is PlacementOutcome.Duplicate or PlacementOutcome.KeyMismatch)
        {
            if (outcome == PlacementOutcome.KeyMismatch) await CartCheckout.ReleaseAsync(deps.Db, order);
            return await ReplayOrRejectAsync(deps, key, hash, ct); // 422 from Payment, or a concurrent duplicate committed first
        }
        var placed = (await OrderQueries.LoadAsync(deps.Db, order.Id, ct))!;
        if (outcome == PlacementOutcome.PaymentPending)
        {
            deps.Metrics.PaymentPending();
            deps.Metrics.OrderAnswered("payment_pending");
            return TypedResults.Accepted($"/api/orders/{order.Id}", placed);
        }
        deps.Metrics.OrderAnswered("placed");
        return TypedResults.Created($"/api/orders/{order.Id}", placed);
    }

    private static async Task<PlaceResult> ReplayOrRejectAsync(
        PlaceOrderDependencies deps, string key, string hash, CancellationToken ct) =>
        await OrderQueries.FindByKeyAsync(deps.Db, key, ct) is { } stored ? await ReplayAsync(deps, stored, hash, ct) : KeyReused();

    private static async Task<PlaceResult> ReplayCartAsync(PlaceOrderDependencies deps, Guid orderId, CancellationToken ct)
    {
        deps.Metrics.OrderAnswered("replayed");
        return TypedResults.Ok((await OrderQueries.LoadAsync(deps.Db, orderId, ct))!);
    }

    private static ProblemHttpResult CartInProgress(HttpContext http)
    {
        http.Response.Headers.RetryAfter = "1";
        return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "This cart is being ordered",
            detail: "Another request is placing the order of this cart; retry to get it.");
    }

    // A replay answers 200 (not 201): the body is the stored order, identical to the first response's body.
    private static async Task<PlaceResult> ReplayAsync(
        PlaceOrderDependencies deps, StoredKey stored, string hash, CancellationToken ct)
    {
        if (stored.RequestHash != hash) return KeyReused();
        deps.Metrics.OrderAnswered("replayed");
        return TypedResults.Ok((await OrderQueries.LoadAsync(deps.Db, stored.OrderId, ct))!);
    }

    private static ProblemHttpResult KeyReused() => TypedResults.Problem(new HttpValidationProblemDetails(
        new Dictionary<string, string[]> { [PlaceOrderRules.IdempotencyKeyHeader] = ["This key was already used with a different request."] })
    {
        Status = StatusCodes.Status422UnprocessableEntity,
        Title = "Idempotency-Key reused with a different request",
    });

    private static ProblemHttpResult Unavailable(HttpContext http, DependencyUnavailableException e)
    {
        var retryAfter = Math.Max(1, (int)Math.Ceiling((e.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds));
        http.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: $"{e.Dependency} unavailable",
            detail: "Nothing was written; retry with the same Idempotency-Key.",
            extensions: new Dictionary<string, object?> { ["dependency"] = e.Dependency, ["reason"] = e.Reason });
    }
}
