// Drill KPIs, two ways at once: every counter is an OpenTelemetry counter named reliableshop.<name> (dashboard) AND an
// in-memory value served as JSON on GET /admin/stats (k6 and tests), which POST /admin/stats/reset zeroes for a phase.
// Sections that are state rather than counts (outbox backlog, queue depth, pool usage, breaker state) come from
// IDrillStatsSource implementations registered beside the pattern they describe.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace ReliableShop.Drills;

public sealed class DrillStats : IDisposable
{
    public const string MeterName = "ReliableShop.Drills";
    private readonly Meter meter = new(MeterName);
    private readonly ConcurrentDictionary<string, DrillCounter> counters = new();

    /// <summary>The counter named <paramref name="name"/> (e.g. "payment.attempts"), created on first use.</summary>
    public DrillCounter Counter(string name, string description = "") =>
        counters.GetOrAdd(name, n => new DrillCounter(meter.CreateCounter<long>("reliableshop." + n, description: description)));

    /// <summary>Counter values by name and tag value: {"payment.attempts": {"first": 10, "retry": 2}}.</summary>
    public SortedDictionary<string, SortedDictionary<string, long>> Snapshot() =>
        new(counters.ToDictionary(c => c.Key, c => c.Value.Values()));

    public void Reset()
    {
        foreach (var counter in counters.Values) counter.Reset();
    }

    public void Dispose() => meter.Dispose();
}

/// <summary>A counter with one optional dimension (e.g. attempt = first | retry); "total" when there is none.</summary>
public sealed class DrillCounter(Counter<long> instrument)
{
    private readonly ConcurrentDictionary<string, long> values = new();

    public void Add(long delta = 1, string kind = "total")
    {
        values.AddOrUpdate(kind, delta, (_, v) => v + delta);
        instrument.Add(delta, new KeyValuePair<string, object?>("kind", kind));
    }

    public long Value(string kind = "total") => values.GetValueOrDefault(kind);

    internal SortedDictionary<string, long> Values() => new(values);

    internal void Reset() => values.Clear();
}

/// <summary>A named section of /admin/stats read at request time (queue depth, pool usage, breaker state …).</summary>
public interface IDrillStatsSource
{
    string Section { get; }
    Task<object> ReadAsync(CancellationToken ct);

    /// <summary>Zero the section's counters for a new drill phase (state such as queue depth is not reset).</summary>
    void Reset() { }
}
