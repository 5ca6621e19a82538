// "Pool wait, not slow SQL": where the time of one order placement went — waiting for a pooled connection, running
// SQL, waiting on the hot row's lock, waiting on Payment while a transaction is open — as OpenTelemetry histograms
// (reliableshop.ordering.placement.*, ms) and as percentiles on GET /admin/stats, section "placement".
// Doc: docs/failure-modes/pool-exhaustion.md, docs/failure-modes/scaling-plateau.md
using System.Diagnostics.Metrics;
using ReliableShop.Drills;
using ReliableShop.Ordering.Telemetry;

namespace ReliableShop.Ordering.Orders;

public sealed class PlacementTiming(bool Held)
{
    public bool Held { get; } = Held;
    public TimeSpan PoolWait { get; set; }
    public TimeSpan Sql { get; set; }
    public TimeSpan LockWait { get; set; }
    public TimeSpan RemoteInTransaction { get; set; }
    public TimeSpan Total { get; set; }
}

public sealed class PlacementTimings : IDrillStatsSource
{
    private const int Window = 20_000; // most recent placements kept for the percentiles
    private readonly Histogram<double> poolWait, sql, lockWait, remoteInTx;
    private readonly Counter<long> poolWaitTimeouts;
    private readonly Lock gate = new();
    private readonly Queue<PlacementTiming> recent = new();
    private long timedOut, held, placed;

    public PlacementTimings(IMeterFactory meters)
    {
        var meter = meters.Create(OrderingMetrics.MeterName);
        poolWait = meter.CreateHistogram<double>("reliableshop.ordering.placement.pool_wait", "ms", "Time an order placement waited for a pooled connection.");
        sql = meter.CreateHistogram<double>("reliableshop.ordering.placement.sql", "ms", "Time an order placement spent running SQL.");
        lockWait = meter.CreateHistogram<double>("reliableshop.ordering.placement.lock_wait", "ms", "Time spent waiting on the order-number row lock (naive path).");
        remoteInTx = meter.CreateHistogram<double>("reliableshop.ordering.placement.remote_in_transaction", "ms", "Payment call time while a transaction was open (naive path).");
        poolWaitTimeouts = meter.CreateCounter<long>("reliableshop.ordering.placement.pool_wait_timeouts", "{placement}", "Placements that failed fast (503) waiting for a connection.");
    }

    public string Section => "placement";

    public void Record(PlacementTiming timing)
    {
        poolWait.Record(timing.PoolWait.TotalMilliseconds);
        sql.Record(timing.Sql.TotalMilliseconds);
        if (timing.Held)
        {
            lockWait.Record(timing.LockWait.TotalMilliseconds);
            remoteInTx.Record(timing.RemoteInTransaction.TotalMilliseconds);
        }
        lock (gate)
        {
            placed++;
            if (timing.Held) held++;
            recent.Enqueue(timing);
            if (recent.Count > Window) recent.Dequeue();
        }
    }

    public void PoolWaitTimedOut()
    {
        poolWaitTimeouts.Add(1);
        Interlocked.Increment(ref timedOut);
    }

    public Task<object> ReadAsync(CancellationToken ct)
    {
        lock (gate)
        {
            var all = recent.ToList();
            return Task.FromResult<object>(new
            {
                placements = placed,
                held,
                poolWaitTimeouts = Interlocked.Read(ref timedOut),
                poolWaitMs = Percentiles(all.Select(t => t.PoolWait)),
                sqlMs = Percentiles(all.Select(t => t.Sql)),
                lockWaitMs = Percentiles(all.Where(t => t.Held).Select(t => t.LockWait)),
                remoteInTransactionMs = Percentiles(all.Where(t => t.Held).Select(t => t.RemoteInTransaction)),
                totalMs = Percentiles(all.Select(t => t.Total)),
            });
        }
    }

    public void Reset()
    {
        lock (gate)
        {
            recent.Clear();
            placed = held = 0;
        }
        Interlocked.Exchange(ref timedOut, 0);
    }

    private static object Percentiles(IEnumerable<TimeSpan> values)
    {
        var sorted = values.Select(v => v.TotalMilliseconds).Order().ToArray();
        double At(double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        return new { count = sorted.Length, p50 = Math.Round(At(0.50), 1), p95 = Math.Round(At(0.95), 1), max = Math.Round(At(1.0), 1) };
    }
}
