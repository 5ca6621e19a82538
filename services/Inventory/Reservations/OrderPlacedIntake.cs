// Owns Inventory's OrderPlaced receive endpoint: how many deliveries the broker may push into this process (prefetch)
// and how many reservations run at once (concurrency). Both are fixed when a MassTransit endpoint starts, so a change of
// the overload toggle — or a pause from the admin API — reconnects the endpoint: stop (the reservations already running
// finish; deliveries not started go back to the queue), then connect with the new limits. In reproduce every delivery
// is already running, so a switch to contain takes effect once they are done. The pause is this process's, in memory:
// a restart consumes again.
//
//   overload — reproduce (NAIVE): prefetch = the mode's `prefetch` (1000), no concurrency limit. What it does wrong: a
//     backlog (a deploy, a pause, a burst of orders) is pulled out of the broker at once and every delivery starts a
//     reservation: hundreds of transactions queue for the Npgsql pool, and the price reads of order placement, which
//     need the same pool, queue behind them. The queue at the broker looks empty while the process drowns, and another
//     replica could not help: the whole backlog is already here, unacknowledged.
//   contain (and normally, CONTROL): prefetch = concurrency = Reservations:ConcurrencyLimit (16). Guarantees: at most
//     that many reservations run and at most that many deliveries wait in this process; the rest of a backlog stays at
//     the broker, where it is durable, visible as queue depth and shared between replicas; the pool keeps room for reads.
// Doc: docs/failure-modes/overload.md
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ReliableShop.Drills;
using ReliableShop.FailureModes;
using ReliableShop.Inventory.Catalog;

namespace ReliableShop.Inventory.Reservations;

/// <summary>Prefetch and concurrency of the endpoint; a null concurrency limit means none (every prefetched delivery runs).</summary>
public sealed record ConsumerLimits(int Prefetch, int? ConcurrencyLimit)
{
    public static ConsumerLimits For(FailureModeSnapshot modes, ReservationsOptions options) =>
        modes[OrderPlacedIntake.Mode] is { Naive: true } overload
            ? new((int)overload["prefetch"], null)                                  // NAIVE: see the header
            : new(options.ConcurrencyLimit, options.ConcurrencyLimit);              // CONTROL
}

/// <summary>Section "reservations" of GET /admin/stats; null limits: the endpoint is stopped (paused).</summary>
public sealed record ReservationsStats(
    string Queue, bool Paused, int? Prefetch, int? ConcurrencyLimit, long InFlight, long PeakInFlight, long Reconnects);

public sealed class OrderPlacedIntake : BackgroundService, IDrillStatsSource, IHealthCheck
{
    public const string Mode = "overload";
    private static readonly TimeSpan TogglePoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(10);

    private readonly IReceiveEndpointConnector connector;
    private readonly FailureModeToggles toggles;
    private readonly IOptions<ReservationsOptions> options;
    private readonly BusStarted busStarted;
    private readonly TimeProvider time;
    private readonly ILogger<OrderPlacedIntake> logger;
    private readonly SemaphoreSlim applying = new(1, 1);
    private readonly CancellationTokenSource shutdownTimeUp = new(); // a stop waiting for running reservations gives up
    private readonly InFlightCounter reservations = new();
    private HostReceiveEndpointHandle? endpoint;
    private volatile ConsumerLimits? connected;   // the limits of the connected endpoint; null while stopped
    private volatile bool paused, stopped, everReady;
    private long reconnects;

    public OrderPlacedIntake(IReceiveEndpointConnector connector, FailureModeToggles toggles, IOptions<ReservationsOptions> options,
        BusStarted busStarted, TimeProvider time, IMeterFactory meterFactory, ILogger<OrderPlacedIntake> logger)
    {
        (this.connector, this.toggles, this.options, this.busStarted, this.time, this.logger) =
            (connector, toggles, options, busStarted, time, logger);
        meterFactory.Create(CacheMetrics.MeterName).CreateObservableUpDownCounter("reliableshop.inventory.reservations.in_flight",
            () => reservations.Current, "{reservation}", "OrderPlaced reservations running in this process");
    }

    public string Section => "reservations";

    /// <summary>The limits of the connected endpoint (it may still be starting); null while stopped (paused, or before
    /// the bus has started).</summary>
    public ConsumerLimits? Limits => connected;

    /// <summary>Stops consuming: running reservations finish, everything else stays at the broker. For maintenance,
    /// and for the drills, which build a backlog this way.</summary>
    public Task PauseAsync(CancellationToken ct)
    {
        paused = true;
        return ApplyAsync(ct);
    }

    /// <summary>Consumes again, with the limits of the current toggle; returns once the endpoint is ready (or after
    /// <see cref="ReadyWait"/>: it keeps connecting in the background, e.g. while the broker is down).</summary>
    public async Task ResumeAsync(CancellationToken ct)
    {
        paused = false;
        await AwaitReadyAsync(await ApplyAsync(ct), ct);
    }

    /// <summary>Call around each reservation: the in-flight count and its peak are the "queues within bounds" KPI.</summary>
    public InFlightCounter.Scope Consuming() => reservations.Enter();

    public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(Snapshot());

    public ReservationsStats Snapshot()
    {
        var limits = connected;
        return new(options.Value.QueueName, paused, limits?.Prefetch, limits?.ConcurrencyLimit, reservations.Current,
            reservations.Peak, Interlocked.Read(ref reconnects));
    }

    /// <summary>Zeroes the peak down to what runs now; the count of reconnects is history and stays.</summary>
    public void Reset() => reservations.ResetPeak();

    /// <summary>Health: Unhealthy until the endpoint has been ready once (before that, OrderPlaced published by Ordering
    /// could find no queue bound and be dropped by the broker); Degraded while paused.</summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct)
    {
        // Ready later than the intake waited for it (the broker came up after Inventory): seen here.
        if (Volatile.Read(ref endpoint) is { Ready.IsCompletedSuccessfully: true }) everReady = true;
        return Task.FromResult(
            !everReady ? HealthCheckResult.Unhealthy($"OrderPlaced endpoint on {options.Value.QueueName} not ready yet")
            : paused ? HealthCheckResult.Degraded("OrderPlaced consumer paused (POST /admin/reservations/resume)")
            : HealthCheckResult.Healthy());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TogglePoll, time);
        do
        {
            try
            {
                await AwaitReadyAsync(await ApplyAsync(stoppingToken), stoppingToken);
            }
            catch (OperationCanceledException) when (shutdownTimeUp.IsCancellationRequested)
            {
                return; // a switch gave up at shutdown: StopAsync finishes the stop
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogError(e, "Could not apply the OrderPlaced consumer limits; trying again");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Shutdown drains: the reservations running finish, until the host's shutdown time is up
    /// (<paramref name="cancellationToken"/>). Then a stop still waiting — this one, or a switch's or a pause's, which
    /// have no deadline of their own — gives up: the running reservations are cancelled (rolled back) and were never
    /// acknowledged, so the broker delivers them again once this process's connection is gone. A reservation may be
    /// held by a lock that is not ours; the process must stop all the same (it used to wait for the lock forever).
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        stopped = true; // no ApplyAsync connects after this
        using var timeUp = cancellationToken.Register(shutdownTimeUp.Cancel);
        await base.StopAsync(cancellationToken);
        await applying.WaitAsync(CancellationToken.None); // held by a stop in progress at most until the time is up
        try
        {
            await StopEndpointAsync();
        }
        catch (OperationCanceledException) when (shutdownTimeUp.IsCancellationRequested)
        {
            logger.LogWarning("Shutdown time up: OrderPlaced reservations still running were cancelled; the broker delivers them again");
        }
        finally
        {
            applying.Release();
        }
    }

    /// <summary>Brings the endpoint to the wanted limits (or stopped, when paused) and returns the readiness of the
    /// endpoint it connected, if any. Serialised: the poll and the admin API may both call it. It does not wait for
    /// readiness itself, so a slow broker never holds up the next change.</summary>
    private async Task<Task<ReceiveEndpointReady>?> ApplyAsync(CancellationToken ct)
    {
        // A receive endpoint connected before the bus has started would be started a second time by the bus.
        await busStarted.Task.WaitAsync(ct);
        await applying.WaitAsync(ct);
        try
        {
            var wanted = paused || stopped ? null : ConsumerLimits.For(toggles.Current, options.Value);
            if (wanted == connected && (wanted is null) == (endpoint is null)) return null;
            await StopEndpointAsync();
            if (wanted is null) return null;
            var connecting = connector.ConnectReceiveEndpoint(options.Value.QueueName, (context, e) =>
            {
                e.PrefetchCount = wanted.Prefetch;
                // No limit: MassTransit then runs every prefetched delivery at once.
                if (wanted.ConcurrencyLimit is { } limit) e.ConcurrentMessageLimit = limit;
                e.ConfigureConsumer<OrderPlacedConsumer>(context);
            });
            (endpoint, connected) = (connecting, wanted);
            Interlocked.Increment(ref reconnects);
            logger.LogInformation("OrderPlaced consumer on {Queue}: prefetch {Prefetch}, concurrency limit {Limit}",
                options.Value.QueueName, wanted.Prefetch, wanted.ConcurrencyLimit?.ToString() ?? "none");
            return connecting.Ready;
        }
        finally
        {
            applying.Release();
        }
    }

    /// <summary>
    /// Stops the endpoint, under the lock, with no deadline and no caller's token; only the end of the shutdown time
    /// cancels it. MassTransit's stop waits for the deliveries already running, and a cancelled stop cancels them and
    /// leaves their channel open with the messages unacknowledged — stuck until the connection closes (seen in
    /// OrderPlacedBacklogTests before this was so), which only the end of the process does. So a switch away from
    /// reproduce, or a pause, takes effect once the reservations already running have finished; the handle is
    /// forgotten only then, so a stop that fails is tried again by the next call rather than leaving a second consumer.
    /// An endpoint still starting is let finish starting first (at most <see cref="ReadyWait"/>): a stop that lands while
    /// MassTransit declares the endpoint's topology can wait forever — a CI rehearsal's test host hung so (2026-12-07,
    /// a pause right after a switch: the stop waited for the new endpoint's transport, stuck in ExchangeDeclareAsync on
    /// the channel's RPC semaphore, with no timeout; every thread idle, the admin request never answered).
    /// </summary>
    private async Task StopEndpointAsync()
    {
        if (endpoint is not { } running) return;
        connected = null;
        await StartedOrGivenUpAsync(running.Ready);
        await running.StopAsync(shutdownTimeUp.Token);
        endpoint = null;
    }

    /// <summary>Waits until an endpoint has started — or failed to, or <see cref="ReadyWait"/> passed (the broker is
    /// down: MassTransit keeps reconnecting, and a stop then has no topology call to interrupt).</summary>
    private async Task StartedOrGivenUpAsync(Task<ReceiveEndpointReady> ready)
    {
        try
        {
            await ready.WaitAsync(ReadyWait, time, shutdownTimeUp.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !shutdownTimeUp.IsCancellationRequested)
        {
            // not ready in time or faulted: stop it as it is
        }
    }

    private async Task AwaitReadyAsync(Task<ReceiveEndpointReady>? ready, CancellationToken ct)
    {
        if (ready is null) return;
        try
        {
            await ready.WaitAsync(ReadyWait, time, ct);
            everReady = true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not ready in time, or its first connection failed (the broker is down): MassTransit keeps reconnecting.
            logger.LogWarning(e, "OrderPlaced endpoint not ready; it keeps connecting in the background");
        }
    }
}

/// <summary>Completes when the bus has started (MassTransit's host starts it in the background).</summary>
public sealed class BusStarted : IBusObserver
{
    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Task => started.Task;

    public void PostCreate(IBus bus) { }
    public void CreateFaulted(Exception exception) { }
    public Task PreStart(IBus bus) => Task.CompletedTask;
    public Task PostStart(IBus bus, Task<BusReady> busReady)
    {
        started.TrySetResult();
        return Task.CompletedTask;
    }
    public Task StartFaulted(IBus bus, Exception exception) => Task.CompletedTask;
    public Task PreStop(IBus bus) => Task.CompletedTask;
    public Task PostStop(IBus bus) => Task.CompletedTask;
    public Task StopFaulted(IBus bus, Exception exception) => Task.CompletedTask;
}
