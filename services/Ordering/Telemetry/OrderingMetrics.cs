// The drill KPIs Ordering measures, exported as OpenTelemetry metrics (reliableshop.ordering.*) and, as the same
// numbers, on GET /admin/stats: attempts per dependency (retry amplification), breaker state, admission rejections.
// Doc: docs/failure-modes/retry-storm.md
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Polly.CircuitBreaker;
using ReliableShop.Drills;

namespace ReliableShop.Ordering.Telemetry;

public sealed class OrderingMetrics
{
    public const string MeterName = "ReliableShop.Ordering";

    private readonly ConcurrentDictionary<string, DependencyCounters> _dependencies = new(StringComparer.Ordinal);
    private readonly Counter<long> _requests;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _budgetExhausted;
    private readonly Counter<long> _shortCircuited;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _fallbacksRefused;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _breakerTransitions;
    private readonly Counter<long> _admissionRejected;
    private readonly Counter<long> _followUpShed;
    private readonly Counter<long> _orders;
    private long _admissionRejectedTotal;
    private long _paymentPendingTotal, _paymentPendingRefusedTotal;
    private long _rateLimitedTotal, _droppedStaleTotal, _followUpShedTotal, _queueWaitMaxTicks, _shedsOver20MsTotal, _shedMaxTicks;
    private readonly InFlightCounter _writes = new();
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _shedTime;

    /// <summary>The catalogue's bound on a rejection (failure-modes.md § 4: rejections p99 ≤ 20 ms), counted server-side.</summary>
    public static readonly TimeSpan ShedBound = TimeSpan.FromMilliseconds(20);

    public OrderingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("reliableshop.ordering.dependency.requests", "{request}", "Logical calls to a dependency (whatever happened to them).");
        _attempts = meter.CreateCounter<long>("reliableshop.ordering.dependency.attempts", "{attempt}", "Attempts sent on the wire to a dependency, retries included.");
        _retries = meter.CreateCounter<long>("reliableshop.ordering.dependency.retries", "{retry}", "Retries scheduled by the protected pipeline.");
        _budgetExhausted = meter.CreateCounter<long>("reliableshop.ordering.retry_budget.exhausted", "{retry}", "Retries refused by the retry budget (the call failed fast).");
        _shortCircuited = meter.CreateCounter<long>("reliableshop.ordering.breaker.short_circuited", "{request}", "Calls refused by an open breaker without reaching the dependency.");
        _failed = meter.CreateCounter<long>("reliableshop.ordering.dependency.failed", "{request}", "Logical calls that ended unavailable, by reason.");
        _fallbacks = meter.CreateCounter<long>("reliableshop.ordering.payment_pending", "{order}", "Orders accepted as PaymentPending (202) because Payment was unavailable.");
        _fallbacksRefused = meter.CreateCounter<long>("reliableshop.ordering.payment_pending.refused", "{order}", "Placements shed (503) because the PaymentPending backlog was full.");
        _breakerTransitions = meter.CreateCounter<long>("reliableshop.ordering.breaker.transitions", "{transition}", "Circuit breaker state changes.");
        _admissionRejected = meter.CreateCounter<long>("reliableshop.ordering.admission.rejected", "{request}", "POST /api/orders shed by admission control (503).");
        _followUpShed = meter.CreateCounter<long>("reliableshop.ordering.admission.follow_up_shed", "{request}",
            "POST /api/orders shed (503) in overload contain because the orders already taken were behind on their reservation or capture.");
        _orders = meter.CreateCounter<long>("reliableshop.ordering.orders", "{order}", "Order requests answered, by outcome (placed, replayed).");
        _queueWait = meter.CreateHistogram<double>("reliableshop.ordering.admission.queue_time", "s", "Time a POST /api/orders waited at the door for its permit.");
        _shedTime = meter.CreateHistogram<double>("reliableshop.ordering.admission.shed_time", "s",
            "Server time of a request the door refused (429/503): from its arrival at the door to its answer written.");
        meter.CreateObservableUpDownCounter("reliableshop.ordering.admission.in_flight", () => _writes.Current, "{request}",
            "Order placements running now (past admission).");
        meter.CreateObservableGauge("reliableshop.ordering.breaker.state", ObserveBreakerStates, "{state}",
            "Circuit breaker state per dependency: 0 closed, 1 open, 2 half-open, 3 isolated.");
    }

    /// <summary>A logical call starts (counted before any pipeline, so short-circuited calls count too).</summary>
    public void CallStarted(string dependency)
    {
        Interlocked.Increment(ref For(dependency).Requests);
        _requests.Add(1, new KeyValuePair<string, object?>("dependency", dependency));
    }

    public void AttemptSent(string dependency, int attempt)
    {
        var counters = For(dependency);
        var tag = new KeyValuePair<string, object?>("dependency", dependency);
        Interlocked.Increment(ref counters.Attempts);
        _attempts.Add(1, tag, new("attempt", attempt == 1 ? "first" : "retry"));
    }

    public void RetryScheduled(string dependency)
    {
        Interlocked.Increment(ref For(dependency).Retries);
        _retries.Add(1, new KeyValuePair<string, object?>("dependency", dependency));
    }

    public void RetryBudgetExhausted(string dependency)
    {
        Interlocked.Increment(ref For(dependency).BudgetExhausted);
        _budgetExhausted.Add(1, new KeyValuePair<string, object?>("dependency", dependency));
    }

    /// <summary>A logical call ended unavailable (after its retries), by reason: circuit-open, bulkhead-full, timeout, error.</summary>
    public void CallFailed(string dependency, string reason)
    {
        For(dependency).Failed.AddOrUpdate(reason, 1, (_, n) => n + 1);
        _failed.Add(1, new("dependency", dependency), new("reason", reason));
    }

    public void ShortCircuited(string dependency)
    {
        Interlocked.Increment(ref For(dependency).ShortCircuited);
        _shortCircuited.Add(1, new KeyValuePair<string, object?>("dependency", dependency));
    }

    public void PaymentPending()
    {
        Interlocked.Increment(ref _paymentPendingTotal);
        _fallbacks.Add(1);
    }

    public void PaymentPendingRefused()
    {
        Interlocked.Increment(ref _paymentPendingRefusedTotal);
        _fallbacksRefused.Add(1);
    }

    /// <summary>The dependency's breaker as its last transition left it (Closed until one opens it).</summary>
    public CircuitState BreakerState(string dependency) => For(dependency).State;

    public void BreakerChanged(string dependency, CircuitState state)
    {
        var counters = For(dependency);
        counters.State = state;
        if (state == CircuitState.Open) Interlocked.Increment(ref counters.Opened);
        _breakerTransitions.Add(1, new("dependency", dependency), new("state", state.ToString()));
    }

    public void AdmissionRejected()
    {
        Interlocked.Increment(ref _admissionRejectedTotal);
        _admissionRejected.Add(1);
    }

    public void AdmissionRateLimited() => Interlocked.Increment(ref _rateLimitedTotal);

    public void AdmissionDroppedStale() => Interlocked.Increment(ref _droppedStaleTotal);

    /// <summary>overload contain: a placement shed because the orders already taken were behind (FollowUpBacklog.cs).</summary>
    public void AdmissionFollowUpShed()
    {
        Interlocked.Increment(ref _followUpShedTotal);
        _followUpShed.Add(1);
    }

    /// <summary>A refusal at the door (429 or 503) answered <paramref name="took"/> after the request reached the door.</summary>
    public void AdmissionShed(TimeSpan took)
    {
        _shedTime.Record(took.TotalSeconds);
        if (took > ShedBound) Interlocked.Increment(ref _shedsOver20MsTotal);
        RunningMax.Raise(ref _shedMaxTicks, took.Ticks);
    }

    public void AdmissionQueued(TimeSpan waited)
    {
        _queueWait.Record(waited.TotalSeconds);
        var ticks = waited.Ticks;
        RunningMax.Raise(ref _queueWaitMaxTicks, ticks);
    }

    /// <summary>Counts one placement in flight until disposed; keeps the highest count seen since the last reset.</summary>
    public InFlightCounter.Scope WriteStarted() => _writes.Enter();

    public void OrderAnswered(string outcome) => _orders.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    public OrderingStats Snapshot() => new(
        _dependencies.ToDictionary(d => d.Key, d => new DependencyStats(
            Interlocked.Read(ref d.Value.Requests), Interlocked.Read(ref d.Value.Attempts), Interlocked.Read(ref d.Value.Retries),
            Interlocked.Read(ref d.Value.BudgetExhausted), Interlocked.Read(ref d.Value.ShortCircuited),
            new SortedDictionary<string, long>(d.Value.Failed, StringComparer.Ordinal), d.Value.State.ToString(),
            Interlocked.Read(ref d.Value.Opened))),
        Interlocked.Read(ref _admissionRejectedTotal), Interlocked.Read(ref _paymentPendingTotal),
        Interlocked.Read(ref _paymentPendingRefusedTotal),
        new AdmissionStats(Interlocked.Read(ref _rateLimitedTotal), Interlocked.Read(ref _droppedStaleTotal),
            Interlocked.Read(ref _followUpShedTotal), _writes.Current, _writes.Peak,
            TimeSpan.FromTicks(Interlocked.Read(ref _queueWaitMaxTicks)).TotalMilliseconds,
            Interlocked.Read(ref _shedsOver20MsTotal), TimeSpan.FromTicks(Interlocked.Read(ref _shedMaxTicks)).TotalMilliseconds));

    /// <summary>Zeroes the counts for a new drill phase; breaker states are state, not counts, and stay.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _admissionRejectedTotal, 0);
        Interlocked.Exchange(ref _paymentPendingTotal, 0);
        Interlocked.Exchange(ref _paymentPendingRefusedTotal, 0);
        Interlocked.Exchange(ref _rateLimitedTotal, 0);
        Interlocked.Exchange(ref _droppedStaleTotal, 0);
        Interlocked.Exchange(ref _followUpShedTotal, 0);
        _writes.ResetPeak();
        Interlocked.Exchange(ref _queueWaitMaxTicks, 0);
        Interlocked.Exchange(ref _shedsOver20MsTotal, 0);
        Interlocked.Exchange(ref _shedMaxTicks, 0);
        foreach (var counters in _dependencies.Values)
        {
            Interlocked.Exchange(ref counters.Requests, 0);
            Interlocked.Exchange(ref counters.Attempts, 0);
            Interlocked.Exchange(ref counters.Retries, 0);
            Interlocked.Exchange(ref counters.BudgetExhausted, 0);
            Interlocked.Exchange(ref counters.ShortCircuited, 0);
            counters.Failed.Clear();
            Interlocked.Exchange(ref counters.Opened, 0);
        }
    }

    private DependencyCounters For(string dependency) => _dependencies.GetOrAdd(dependency, _ => new DependencyCounters());

    private IEnumerable<Measurement<int>> ObserveBreakerStates() =>
        _dependencies.Select(d => new Measurement<int>((int)d.Value.State, new KeyValuePair<string, object?>("dependency", d.Key)));

    private sealed class DependencyCounters
    {
        public long Requests;
        public long Attempts;
        public long Retries;
        public long BudgetExhausted;
        public long ShortCircuited;
        public readonly ConcurrentDictionary<string, long> Failed = new(StringComparer.Ordinal);
        public long Opened;
        public volatile CircuitState State = CircuitState.Closed;
    }
}

public static class OrderingMetricsExtensions
{
    public static IServiceCollection AddOrderingMetrics(this IServiceCollection services) =>
        services.AddMetrics().AddSingleton<OrderingMetrics>();
}

/// <param name="Requests">Logical calls; <paramref name="Attempts"/> ÷ Requests is the retry amplification.</param>
/// <param name="Failed">Logical calls that ended unavailable, by reason (circuit-open, bulkhead-full, timeout, error).</param>
public sealed record DependencyStats(long Requests, long Attempts, long Retries, long BudgetExhausted, long ShortCircuited,
    IReadOnlyDictionary<string, long> Failed, string BreakerState, long BreakerOpened);

public sealed record OrderingStats(IReadOnlyDictionary<string, DependencyStats> Dependencies, long AdmissionRejected, long PaymentPending,
    long PaymentPendingRefused,
    AdmissionStats Admission);

/// <param name="FollowUpShed">overload contain: placements shed because the orders already taken were behind.</param>
/// <param name="WritesInFlightMax">Highest number of placements running at once since the last reset.</param>
/// <param name="ShedsOver20Ms">Refusals at the door (429/503) that took longer than <see cref="OrderingMetrics.ShedBound"/>
/// server-side; ÷ the refusals, the share above the catalogue's 20 ms.</param>
/// <param name="ShedMaxMs">The slowest refusal at the door, server-side.</param>
public sealed record AdmissionStats(long RateLimited, long DroppedStale, long FollowUpShed, long WritesInFlight, long WritesInFlightMax, double QueueWaitMaxMs,
    long ShedsOver20Ms, double ShedMaxMs);
