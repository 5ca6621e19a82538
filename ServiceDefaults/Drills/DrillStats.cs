// Drill KPIs on GET /admin/stats: one section per pattern, each an IDrillStatsSource registered beside the code it
// measures (Ordering's dependencies, Payment's requests and faults, the cache, consumers, outbox, jobs, the pool).
// POST /admin/stats/reset zeroes the counts of every section for a new drill phase. The same numbers are OpenTelemetry
// metrics named reliableshop.* (meter prefix "ReliableShop."), exported to the dashboard.
namespace ReliableShop.Drills;

/// <summary>A named section of /admin/stats read at request time (queue depth, pool usage, breaker state …).</summary>
public interface IDrillStatsSource
{
    string Section { get; }
    Task<object> ReadAsync(CancellationToken ct);

    /// <summary>Zero the section's counters for a new drill phase (state such as queue depth is not reset).</summary>
    void Reset() { }
}
