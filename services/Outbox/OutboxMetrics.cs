// Outbox telemetry (Meter "ReliableShop.Outbox"): backlog and publish lag make a stuck relay or a broker outage
// visible before anyone asks "where is my event?". Gauges read a cached snapshot refreshed at most every 5 s.
// Doc: docs/failure-modes/outbox.md
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ReliableShop.Outbox;

internal sealed class OutboxMetrics
{
    public const string MeterName = OutboxExtensions.MeterName;

    // One COUNT per 5 s per instance, however often exporters scrape: the gauges must not load the database.
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;
    private readonly ILogger<OutboxMetrics> _logger;
    private readonly Counter<long> _published;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _deadLettered;
    private volatile Snapshot _snapshot = new(new OutboxStats(0, 0, 0), DateTimeOffset.MinValue);
    private int _refreshing;

    public OutboxMetrics(IMeterFactory meterFactory, NpgsqlDataSource dataSource, TimeProvider time, ILogger<OutboxMetrics> logger)
    {
        (_dataSource, _time, _logger) = (dataSource, time, logger);
        var meter = meterFactory.Create(MeterName);
        _published = meter.CreateCounter<long>("reliableshop.outbox.published", "{message}", "Rows confirmed by the broker");
        _failed = meter.CreateCounter<long>("reliableshop.outbox.failed", "{message}", "Failed publish attempts (retried with backoff)");
        _deadLettered = meter.CreateCounter<long>("reliableshop.outbox.dead_lettered", "{message}", "Rows that exhausted MaxAttempts");
        meter.CreateObservableGauge("reliableshop.outbox.backlog", () => Current().Pending, "{message}", "Pending rows");
        meter.CreateObservableGauge("reliableshop.outbox.dead", () => Current().Dead, "{message}", "Dead rows awaiting replay");
        meter.CreateObservableGauge("reliableshop.outbox.oldest_pending_age", () => Current().OldestPendingAgeSeconds, "s",
            "Age of the oldest pending row: the publish lag");
    }

    public void Published() => _published.Add(1);

    public void Failed() => _failed.Add(1);

    public void DeadLettered() => _deadLettered.Add(1);

    /// <summary>The last snapshot (its oldest age advanced by the time since it was read); starts a refresh when stale.</summary>
    public OutboxStats Current()
    {
        var snapshot = _snapshot;
        var now = _time.GetUtcNow();
        if (now - snapshot.ReadAt >= RefreshInterval && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = RefreshAsync();
        }
        var stats = snapshot.Stats;
        return stats.Pending == 0 || snapshot.ReadAt == DateTimeOffset.MinValue
            ? stats
            : stats with { OldestPendingAgeSeconds = stats.OldestPendingAgeSeconds + (now - snapshot.ReadAt).TotalSeconds };
    }

    private async Task RefreshAsync()
    {
        try
        {
            var readAt = _time.GetUtcNow();
            _snapshot = new Snapshot(await OutboxAdmin.QueryStatsAsync(_dataSource, CancellationToken.None), readAt);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Outbox metrics refresh failed; gauges keep the last values");
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private sealed record Snapshot(OutboxStats Stats, DateTimeOffset ReadAt);
}
