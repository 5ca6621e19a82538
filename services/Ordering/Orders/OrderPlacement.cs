// Authorize + write one order, choosing the placement by the toggles: the naive one (HeldConnectionPlacement.cs, a
// transaction held across Payment) in reproduce of pool-exhaustion / timeouts-cascade / scaling-plateau, otherwise the
// control below. Doc: docs/failure-modes/pool-exhaustion.md
using Npgsql;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Admission;
using ReliableShop.Ordering.Clients;

namespace ReliableShop.Ordering.Orders;

/// <summary>Created: 201. PaymentPending: 202 (the circuit-breaker fallback). Duplicate / KeyMismatch: replay or 422.</summary>
public enum PlacementOutcome { Created, PaymentPending, Duplicate, KeyMismatch }

public static class OrderPlacement
{
    public static async Task<PlacementOutcome> PlaceAsync(OrdersApi.PlaceOrderDependencies deps, NewOrder order, CancellationToken ct)
    {
        var services = deps.Http.RequestServices;
        var (toggles, pools, timings) = (services.GetRequiredService<FailureModeToggles>(),
            services.GetRequiredService<OrderWritePool>(), services.GetRequiredService<PlacementTimings>());
        if (HeldConnectionPlacement.Selected(toggles))
        {
            return await HeldConnectionPlacement.PlaceAsync(pools.For(toggles.Current), deps.Payment, order,
                HeldConnectionPlacement.LocksHotRow(toggles), deps.Time, timings, ct);
        }
        return await PlaceShortAsync(deps, order, toggles.Current, pools, timings, ct);
    }

    // THE CONTROL: Payment is called BEFORE a connection is taken; the connection is held only for the SQL of one short
    // transaction (order number from a sequence: no row lock); in pool-exhaustion contain a pool wait longer than
    // PoolWaitTimeout fails fast as 503 + Retry-After, well inside the request deadline, instead of Npgsql's 15 s.
    private static async Task<PlacementOutcome> PlaceShortAsync(
        OrdersApi.PlaceOrderDependencies deps, NewOrder order, FailureModeSnapshot modes, OrderWritePool pools, PlacementTimings timings,
        CancellationToken ct)
    {
        Guid? authorizationId;
        try
        {
            // With the fallback on, waiting for Payment to come back is the job's work, not the caller's.
            var retryWindow = PaymentPendingFallback(modes) ? deps.Options.Value.PaymentRetryWindow : (TimeSpan?)null;
            if (retryWindow is not null) deps.Payment.ThrowIfBreakerNotClosed(); // the half-open probe is a job's, not a customer's
            authorizationId = await deps.Payment.AuthorizeAsync(OrderIdentity.PaymentKeyFor(order.IdempotencyKey), order.Id, order.Total, ct, retryWindow);
            if (authorizationId is null) return PlacementOutcome.KeyMismatch;
        }
        catch (DependencyUnavailableException e) when (e.Dependency == PaymentClient.Dependency && PaymentPendingFallback(modes))
        {
            // The fallback's own bound (PaymentPendingBacklog.cs): a full backlog sheds instead of deferring without end.
            if (!await deps.Http.RequestServices.GetRequiredService<PaymentPendingBacklog>().TryAcceptAsync(ct))
            {
                deps.Metrics.PaymentPendingRefused();
                throw BacklogFull(deps, e.RetryAfter, e);
            }
            authorizationId = null; // accepted as PaymentPending; Fulfilment/AuthorizePaymentJob.cs authorizes it once Payment answers
        }
        var timing = new PlacementTiming(Held: false);
        var started = deps.Time.GetTimestamp();
        try
        {
            await using var connection = await OpenAsync(pools.For(modes), OrderWritePool.PoolWaitTimeout(modes), timings, ct);
            timing.PoolWait = deps.Time.GetElapsedTime(started);
            var sql = deps.Time.GetTimestamp();
            var created = await PlaceOrderTransaction.CommitAsync(connection, order with { AuthorizationId = authorizationId }, deps.Time.GetUtcNow(), ct,
                deps.Http.RequestServices.GetService<OutboxToggle>()); // the outbox drill's dual-write variants (reproduce) live there
            timing.Sql = deps.Time.GetElapsedTime(sql);
            if (!created) return PlacementOutcome.Duplicate;
            return authorizationId is null ? PlacementOutcome.PaymentPending : PlacementOutcome.Created;
        }
        finally
        {
            timing.Total = deps.Time.GetElapsedTime(started);
            timings.Record(timing);
        }
    }

    /// <summary>
    /// Sheds, before the replay lookup and any dependency call, a placement that could only end in
    /// pending-backlog-full: this replica's Payment bulkhead has no free permit (the call would be refused at once) and
    /// the PaymentPending backlog is full (the fallback would refuse too). Doing the placement's work first — the
    /// lookup, the prices, the cart, the refused call — only makes the answer later and takes CPU from the orders that
    /// can be placed; the overload drill measured such late 503s at p99 154–216 ms. A backstop: the door, sized below
    /// the Payment bulkhead (AdmissionOptions.PermitLimit), normally sheds first. A bulkhead that frees a permit a
    /// moment later costs one order a retry.
    /// </summary>
    public static async Task ShedIfOnlyRefusalIsLeftAsync(OrdersApi.PlaceOrderDependencies deps, CancellationToken ct)
    {
        var modes = deps.Toggles.Current;
        // overload / timeouts-cascade reproduce: the naive door sheds nothing, here either.
        if (AdmissionControl.Unlimited(modes) || HeldConnectionPlacement.Selected(deps.Toggles) || !PaymentPendingFallback(modes)
            || !deps.Payment.Saturated) return;
        var backlog = deps.Http.RequestServices.GetRequiredService<PaymentPendingBacklog>();
        if (!await backlog.IsFullAsync(ct)) return;
        deps.Metrics.PaymentPendingRefused();
        throw BacklogFull(deps, innerRetryAfter: null, inner: null);
    }

    private static DependencyUnavailableException BacklogFull(OrdersApi.PlaceOrderDependencies deps, TimeSpan? innerRetryAfter, Exception? inner) =>
        new(PaymentClient.Dependency, "pending-backlog-full", innerRetryAfter ?? TimeSpan.FromSeconds(1),
            $"Payment is unavailable and {deps.Options.Value.MaxPaymentPending} orders already wait for it; nothing was written.", inner);

    // circuit-breaker — contain (and normally): Payment unavailable (breaker open, timed out, failing) ⇒ the order is
    //   accepted as PaymentPending (202) and authorized later by a job: the caller gets a fast answer, nothing is lost.
    // reproduce: no fallback — the caller waits out every attempt and then gets a 503.
    private static bool PaymentPendingFallback(FailureModeSnapshot modes) => !modes["circuit-breaker"].Naive;

    private static async Task<NpgsqlConnection> OpenAsync(NpgsqlDataSource db, TimeSpan? poolWaitTimeout, PlacementTimings timings, CancellationToken ct)
    {
        if (poolWaitTimeout is not { } limit) return await db.OpenConnectionAsync(ct);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(limit);
        try
        {
            return await db.OpenConnectionAsync(wait.Token);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            timings.PoolWaitTimedOut();
            throw new DependencyUnavailableException("orders-db", "pool-wait-timeout", TimeSpan.FromSeconds(1),
                $"No pooled connection within {limit.TotalMilliseconds:0} ms; nothing was written.", e);
        }
    }
}

/// <summary>
/// The data source order placement writes through: the service's own (ConnectionStrings:orders) normally; a small pool
/// of poolSize connections while pool-exhaustion is on; in scaling-plateau reproduce a pool of poolSizePerReplica,
/// sized per replica as if it were alone (the fleet sum unchecked). Pools are built once per size and kept.
/// </summary>
public sealed class OrderWritePool(NpgsqlDataSource standard, IConfiguration configuration) : IAsyncDisposable
{
    /// <summary>pool-exhaustion contain: the longest a placement waits for a pooled connection (request deadline: 1 s SLO).</summary>
    public static readonly TimeSpan ContainPoolWait = TimeSpan.FromMilliseconds(250);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Lazy<NpgsqlDataSource>> sized = new();

    public NpgsqlDataSource For(FailureModeSnapshot modes)
    {
        if (modes["pool-exhaustion"] is { FaultInjected: true } exhaustion) return Sized((int)exhaustion["poolSize"]);
        if (modes["scaling-plateau"] is { Naive: true } plateau) return Sized((int)plateau["poolSizePerReplica"]);
        return standard;
    }

    /// <summary>Null: Npgsql's pool-wait timeout (the connection string's Timeout, 15 s by default).</summary>
    public static TimeSpan? PoolWaitTimeout(FailureModeSnapshot modes) =>
        modes["pool-exhaustion"].State == FailureModeState.Contain ? ContainPoolWait : null;

    private NpgsqlDataSource Sized(int maxPoolSize) => sized.GetOrAdd(maxPoolSize, size => new(() =>
    {
        var builder = new NpgsqlDataSourceBuilder(configuration.GetConnectionString("orders")
            ?? throw new InvalidOperationException("ConnectionStrings:orders is missing."));
        builder.ConnectionStringBuilder.MaxPoolSize = size;
        builder.ConnectionStringBuilder.MinPoolSize = 0;
        builder.Name = $"orders-writes-{size}"; // the pool name in Npgsql's metrics (db.client.connection.pool.name)
        return builder.Build();
    })).Value;

    public async ValueTask DisposeAsync()
    {
        foreach (var pool in sized.Values.Where(p => p.IsValueCreated)) await pool.Value.DisposeAsync();
    }
}
