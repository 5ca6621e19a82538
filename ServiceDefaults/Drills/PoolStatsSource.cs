// Npgsql connection-pool usage for /admin/stats ("pool wait, not slow SQL"): read from Npgsql's own metrics in-process
// (db.client.connection.count by state, pending_requests, timeouts, max), so the numbers equal the dashboard's.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace ReliableShop.Drills;

public sealed partial class PoolStatsSource : IDrillStatsSource, IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<string, double> observed = new(); // gauges: re-read on every request
    private readonly ConcurrentDictionary<string, double> counted = new();  // counters (timeouts): accumulated

    public PoolStatsSource()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name.StartsWith("db.client.connection", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Record(i, value, tags));
        listener.SetMeasurementEventCallback<int>((i, value, tags, _) => Record(i, value, tags));
        listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Record(i, value, tags));
        listener.Start();
    }

    public string Section => "pool";

    public Task<object> ReadAsync(CancellationToken ct)
    {
        lock (observed)
        {
            observed.Clear();
            listener.RecordObservableInstruments();
            var all = new SortedDictionary<string, double>(observed);
            foreach (var (key, value) in counted) all[key] = value;
            return Task.FromResult<object>(all);
        }
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var state = "";
        var pool = "";
        foreach (var tag in tags)
        {
            if (tag.Key is "db.client.connection.state" or "state") state = "." + tag.Value;
            if (tag.Key is "db.client.connection.pool.name" or "pool.name") pool = tag.Value as string ?? "";
        }
        // Several data sources (the service's, the control store's) report separately; keep the name short.
        var name = $"{instrument.Name.Replace("db.client.connection.", "", StringComparison.Ordinal)}{state}";
        var key = ControlPool().IsMatch(pool) ? "control." + name : name;
        (instrument.IsObservable ? observed : counted).AddOrUpdate(key, value, (_, v) => v + value);
    }

    // The failure-mode store's pool: its database is "control", or "<prefix>control" when runs share a server.
    [System.Text.RegularExpressions.GeneratedRegex("Database=[^;]*control(;|$)", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex ControlPool();

    public void Dispose() => listener.Dispose();
}
