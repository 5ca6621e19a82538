// Owns Inventory's OrderPlaced receive endpoint: how many deliveries the broker may push into this process (prefetch)
// and how many reservations run at once (concurrency). Both are fixed when a MassTransit endpoint starts, so a change of
// the overload toggle — or a pause from the admin API — reconnects the endpoint: stop (running reservations finish,
// prefetched but unstarted deliveries go back to the queue unacknowledged), then connect with the new limits.
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
using MassTransit;
using Microsoft.Extensions.Options;
using ReliableShop.Drills;
using ReliableShop.FailureModes;

namespace ReliableShop.Inventory.Reservations;

/// <summary>Prefetch and concurrency of the endpoint; a null concurrency limit means none (every prefetched delivery runs).</summary>
public sealed record ConsumerLimits(int Prefetch, int? ConcurrencyLimit)
{
    public static ConsumerLimits For(FailureModeSnapshot modes, ReservationsOptions options) =>
        modes[OrderPlacedIntake.Mode] is { Naive: true } overload
            ? new((int)overload["prefetch"], null)                                  // NAIVE: see the header
            : new(options.ConcurrencyLimit, options.ConcurrencyLimit);              // CONTROL
}

public sealed class OrderPlacedIntake(
    IReceiveEndpointConnector connector, FailureModeToggles toggles, IOptions<ReservationsOptions> options,
    BusStarted busStarted, ILogger<OrderPlacedIntake> logger) : BackgroundService, IDrillStatsSource
{
    public const string Mode = "overload";
    private static readonly TimeSpan TogglePoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim applying = new(1, 1);
    private readonly InFlightCounter reservations = new();
    private HostReceiveEndpointHandle? endpoint;
    private volatile ConsumerLimits? connected;   // the limits of the connected endpoint; null while stopped
    private volatile bool paused;
    private long reconnects;

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
        await ApplyAsync(ct);
        if (endpoint is { } running)
        {
            try
            {
                await running.Ready.WaitAsync(ReadyWait, ct);
            }
            catch (TimeoutException)
            {
                logger.LogWarning("OrderPlaced endpoint not ready after {Wait}; it keeps connecting in the background", ReadyWait);
            }
        }
    }

    /// <summary>Call around each reservation: the in-flight count and its peak are the "queues within bounds" KPI.</summary>
    public InFlightCounter.Scope Consuming() => reservations.Enter();

    public Task<object> ReadAsync(CancellationToken ct)
    {
        var limits = connected;
        return Task.FromResult<object>(new
        {
            queue = options.Value.QueueName,
            paused,
            prefetch = limits?.Prefetch,
            concurrencyLimit = limits?.ConcurrencyLimit,
            inFlight = reservations.Current,
            peakInFlight = reservations.Peak,
            reconnects = Interlocked.Read(ref reconnects),
        });
    }

    /// <summary>Zeroes the peak down to what runs now; the count of reconnects is history and stays.</summary>
    public void Reset() => reservations.ResetPeak();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TogglePoll);
        do
        {
            try
            {
                await ApplyAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogError(e, "Could not apply the OrderPlaced consumer limits; trying again");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (endpoint is { } running) await running.StopAsync(cancellationToken);
    }

    /// <summary>Brings the endpoint to the wanted limits (or stopped, when paused). Serialised: the poll and the admin
    /// API may both call it. It does not wait for a new endpoint to be ready, so a slow broker never holds up the next
    /// change: a change before then stops the starting endpoint and connects another.</summary>
    private async Task ApplyAsync(CancellationToken ct)
    {
        // A receive endpoint connected before the bus has started would be started a second time by the bus.
        await busStarted.Task.WaitAsync(ct);
        await applying.WaitAsync(ct);
        try
        {
            var wanted = paused ? null : ConsumerLimits.For(toggles.Current, options.Value);
            if (wanted == connected) return;
            if (endpoint is { } running)
            {
                (endpoint, connected) = (null, null);
                await running.StopAsync(ct);
            }
            if (wanted is null) return;
            endpoint = connector.ConnectReceiveEndpoint(options.Value.QueueName, (context, e) =>
            {
                e.PrefetchCount = wanted.Prefetch;
                // No limit: MassTransit then runs every prefetched delivery at once.
                if (wanted.ConcurrencyLimit is { } limit) e.ConcurrentMessageLimit = limit;
                e.ConfigureConsumer<OrderPlacedConsumer>(context);
            });
            connected = wanted;
            Interlocked.Increment(ref reconnects);
            logger.LogInformation("OrderPlaced consumer on {Queue}: prefetch {Prefetch}, concurrency limit {Limit}",
                options.Value.QueueName, wanted.Prefetch, wanted.ConcurrencyLimit?.ToString() ?? "none");
        }
        finally
        {
            applying.Release();
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
