// Admission limits of POST /api/orders, bound from "Admission": a typo ("PermitLimt") or an out-of-range value
// stops the service at start instead of silently running with a default. Doc: docs/failure-modes/overload.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Ordering.Admission;

public sealed class AdmissionOptions
{
    public const string SectionName = "Admission";

    /// <summary>
    /// Order placements running at once; each holds a DB connection and a Payment slot for its duration. Sized BELOW
    /// the narrowest dependency bulkhead (Payment's 16, which captures share), so the door is the bottleneck: the
    /// excess is shed here, in memory, before any work — not deeper, after a lookup and a refused call. The overload
    /// drill measured both: at 32 the 3 × C rejections were pending-backlog-full 503s at p99 216 ms, at 10 (no queue) they
    /// are the door's at p99 14.6 ms, with goodput 1.2 × C either way.
    /// </summary>
    [Range(1, 10_000)]
    public int PermitLimit { get; set; } = 10;

    /// <summary>Placements allowed to wait for a permit (oldest first); beyond this a request is shed at once. None by
    /// default: a queued request is judged against MaxQueueWait only when it gets its permit, so behind a slow Payment
    /// (timeouts-cascade, 2 s per call) a queue of 4 turned into 503s answered after 1.6 s, where the spec wants every
    /// rejection answered at once.</summary>
    [Range(0, 10_000)]
    public int QueueLimit { get; set; } = 0;

    /// <summary>A placement that waited longer than this for its permit is dropped (503): its caller has given up.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>overload contain: while the door is refusing, placements are shed too once the oldest order still owed its
    /// reservation or capture is older than this (FollowUpBacklog.cs). Above what C itself runs at: 1 s shed 58 placements
    /// at C in a CI rehearsal where C (40/s) sat at the edge, and held 3 × C to 0.69 × C. Well under the 5 s the recovery
    /// has, so what an overload leaves behind has drained by then.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan MaxFollowUpLag { get; set; } = TimeSpan.FromSeconds(2.5);

    /// <summary>Reads (GET /api/orders/{id}) running at once: their own partition, never taken by writes.</summary>
    [Range(1, 10_000)]
    public int ReadPermitLimit { get; set; } = 64;

    /// <summary>Reads allowed to wait for a read permit.</summary>
    [Range(0, 10_000)]
    public int ReadQueueLimit { get; set; } = 64;

    /// <summary>Per-client token bucket on POST /api/orders: sustained placements per second per client.</summary>
    [Range(1, 100_000)]
    public int PerClientPerSecond { get; set; } = 500;

    /// <summary>Per-client token bucket: the burst a client may send at once.</summary>
    [Range(1, 100_000)]
    public int PerClientBurst { get; set; } = 500;

    /// <summary>Retry-After (seconds) sent with a shed request's 503.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;
}
