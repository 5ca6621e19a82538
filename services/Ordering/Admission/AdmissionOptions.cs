// Admission limits of POST /api/orders, bound from "Admission": a typo ("PermitLimt") or an out-of-range value
// stops the service at start instead of silently running with a default. Doc: docs/failure-modes/overload.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Ordering.Admission;

public sealed class AdmissionOptions
{
    public const string SectionName = "Admission";

    /// <summary>Order placements running at once; each holds a DB connection and a Payment slot for its duration.</summary>
    [Range(1, 10_000)]
    public int PermitLimit { get; set; } = 32;

    /// <summary>Placements allowed to wait for a permit (oldest first); beyond this a request is shed at once.</summary>
    [Range(0, 10_000)]
    public int QueueLimit { get; set; } = 16;

    /// <summary>Retry-After (seconds) sent with a shed request's 503.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;
}
