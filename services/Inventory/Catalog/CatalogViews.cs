// overload, the in-process channel half: product-page views are accepted at the door (202) and written behind by
// CatalogViewWriter. Guarantee (off, contain): no view is admitted while the views accepted and not yet committed are at
// the bound (right after a switch from reproduce, or to a smaller channelCapacity, the queue drains down to it first);
// a full queue answers 503 + Retry-After at once. In every state an accepted view is written at least once (a failed
// batch is retried, never dropped; a batch whose commit was lost in transit may count twice) unless the process dies:
// a crash loses what is queued — at most the bound under the control, everything under the naive path.
// Doc: docs/failure-modes/overload.md
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using ReliableShop.Drills;
using ReliableShop.FailureModes;

namespace ReliableShop.Inventory.Catalog;

/// <summary>One accepted view; <paramref name="AcceptedAt"/> is a <see cref="TimeProvider"/> timestamp.</summary>
public readonly record struct QueuedView(string Sku, long AcceptedAt);

/// <summary>Section "catalogViews" of GET /admin/stats. Queued counts accepted views not yet committed (the batch being
/// written included); bound is null when unbounded (overload: reproduce).</summary>
public sealed record CatalogViewStats(long Accepted, long Rejected, long Written, long Queued, long PeakQueued, long OldestQueuedAgeMs, long? Bound);

public sealed class CatalogViews : IDrillStatsSource
{
    public const string Mode = "overload";
    public const string CapacityParameter = "channelCapacity";
    public const string ViewsName = "reliableshop.inventory.catalog_views";
    public const string QueuedName = "reliableshop.inventory.catalog_views.queued";
    public static readonly int DefaultCapacity = (int)FailureModeCatalog.Find(Mode)!.Parameter(CapacityParameter)!.Default;

    // One unbounded channel in every state, bounded by an admission count rather than Channel.CreateBounded: the bound
    // follows the toggle at runtime (reproduce ↔ contain, a new channelCapacity) without swapping the channel under its
    // reader, and the count is released only when a batch commits, so the bound covers the batch being written too (a
    // bounded channel frees a slot when the writer reads it: behind a stalled database it would hold capacity + 500).
    private readonly Channel<QueuedView> channel = Channel.CreateUnbounded<QueuedView>(new() { SingleReader = true });
    private readonly FailureModeToggles toggles;
    private readonly TimeProvider time;
    private readonly Counter<long> views;
    private long queued, peakQueued, accepted, rejected, written, oldestInFlight;

    public CatalogViews(FailureModeToggles toggles, TimeProvider time, IMeterFactory meterFactory)
    {
        (this.toggles, this.time) = (toggles, time);
        var meter = meterFactory.Create(CacheMetrics.MeterName);
        views = meter.CreateCounter<long>(ViewsName, "{view}", "Catalog item views by outcome: accepted, rejected (queue full), written");
        meter.CreateObservableGauge(QueuedName, () => Interlocked.Read(ref queued), "{view}", "Views accepted and not yet committed");
    }

    internal ChannelReader<QueuedView> Reader => channel.Reader;

    /// <summary>The admission bound now: null when unbounded (reproduce), channelCapacity in contain, the catalogue default when off.</summary>
    public long? Bound => BoundOf(toggles[Mode]);

    private static long? BoundOf(ActiveFailureMode mode) => mode.State switch
    {
        FailureModeState.Reproduce => null,
        FailureModeState.Contain => (long)mode[CapacityParameter],
        _ => DefaultCapacity,
    };

    /// <summary>Queues one view; false = not queued (the queue is at its bound, or the host is stopping): answer 503.</summary>
    public bool TryEnqueue(string sku)
    {
        long now;
        if (Bound is not { } bound)
        {
            // NAIVE (overload: reproduce): every view is admitted. What it does wrong: when the writer falls behind (a
            // slow or locked database, 3 × C offered) the backlog, its memory and the age of the counts grow without
            // limit, the caller still hears 202, and a restart loses everything queued.
            now = Interlocked.Increment(ref queued);
        }
        else if (!TryAdmit(bound, out now))
        {
            // CONTROL (off, contain): at most `bound` views accepted and uncommitted; the rest are refused at once, so
            // memory and staleness stay bounded and the caller learns now (503 + Retry-After) instead of never.
            return Refused();
        }
        if (!channel.Writer.TryWrite(new QueuedView(sku, time.GetTimestamp())))
        {
            Interlocked.Decrement(ref queued); // completed: the host is stopping
            return Refused();
        }
        RunningMax.Raise(ref peakQueued, now);
        Interlocked.Increment(ref accepted);
        views.Add(1, new KeyValuePair<string, object?>("outcome", "accepted"));
        return true;
    }

    // A compare-and-swap, not increment-then-check: the count never exceeds the bound even for an instant.
    private bool TryAdmit(long bound, out long now)
    {
        var seen = Interlocked.Read(ref queued);
        while (seen < bound)
        {
            var found = Interlocked.CompareExchange(ref queued, seen + 1, seen);
            if (found == seen)
            {
                now = seen + 1;
                return true;
            }
            seen = found;
        }
        now = seen;
        return false;
    }

    private bool Refused()
    {
        Interlocked.Increment(ref rejected);
        views.Add(1, new KeyValuePair<string, object?>("outcome", "rejected"));
        return false;
    }

    /// <summary>The writer took a batch; its first view is the oldest uncommitted one (FIFO, one reader).</summary>
    internal void Writing(QueuedView oldest) => Interlocked.Exchange(ref oldestInFlight, oldest.AcceptedAt);

    /// <summary>The writer committed <paramref name="count"/> views: only now do they leave the admission count.</summary>
    internal void Written(int count)
    {
        Interlocked.Exchange(ref oldestInFlight, 0);
        Interlocked.Add(ref written, count);
        views.Add(count, new KeyValuePair<string, object?>("outcome", "written"));
        Interlocked.Add(ref queued, -count);
    }

    /// <summary>The host is stopping: new views are refused; the writer drains what is queued.</summary>
    internal void Complete() => channel.Writer.TryComplete();

    public long Queued => Interlocked.Read(ref queued);

    public string Section => "catalogViews";

    public Task<object> ReadAsync(CancellationToken ct) => Task.FromResult<object>(Snapshot());

    // Age of the oldest uncommitted view = the head of the batch being written. When no batch is in flight the writer
    // is waiting on an empty channel (or waking for a view that just came), so the age is ~0.
    public CatalogViewStats Snapshot()
    {
        var oldest = Interlocked.Read(ref oldestInFlight);
        var ageMs = oldest == 0 ? 0 : (long)time.GetElapsedTime(oldest).TotalMilliseconds;
        return new(Interlocked.Read(ref accepted), Interlocked.Read(ref rejected), Interlocked.Read(ref written),
            Queued, Interlocked.Read(ref peakQueued), ageMs, Bound);
    }

    /// <summary>Zeroes the counts for a new drill phase; the queue stays, and the peak restarts from what is queued now.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref accepted, 0);
        Interlocked.Exchange(ref rejected, 0);
        Interlocked.Exchange(ref written, 0);
        Interlocked.Exchange(ref peakQueued, Queued);
    }
}
