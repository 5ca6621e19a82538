// Limits of one order request, bound from "Orders": a typo or an out-of-range value stops the service at start.
// Doc: docs/failure-modes/load-only-bugs.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Ordering.Orders;

public sealed class OrdersOptions
{
    public const string SectionName = "Orders";

    /// <summary>Most lines (distinct SKUs) in one order; more ⇒ 400 naming "items".</summary>
    [Range(1, 100)]
    public int MaxLines { get; set; } = 20;

    /// <summary>Largest quantity of one line; more ⇒ 400 naming "items[i].quantity".</summary>
    [Range(1, 1_000_000)]
    public int MaxQuantityPerLine { get; set; } = 1000;

    /// <summary>
    /// End-to-end deadline of one placement, shorter than any sane client timeout: past it, every downstream call and
    /// query is cancelled and the caller gets 503 (nothing written) instead of waiting for work nobody will use.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan RequestDeadline { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// circuit-breaker: how long a placement may spend retrying Payment while the PaymentPending fallback is on. A retry
    /// that would start later — typically one asked to wait for Payment's Retry-After — is not taken: the order is
    /// accepted as PaymentPending (202) at once and a job authorizes it, instead of the caller waiting for an answer
    /// the fallback already gives. Jobs keep the client's whole TotalTimeout.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:30")]
    public TimeSpan PaymentRetryWindow { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// circuit-breaker / overload: the most orders that may wait as PaymentPending, fleet-wide. While Payment is
    /// unavailable the fallback accepts orders up to this backlog; past it a placement is shed (503 + Retry-After), so a
    /// long outage or an overload never leaves more deferred work than the authorize jobs clear in a few minutes.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxPaymentPending { get; set; } = 1000;

    /// <summary>Largest accepted request body in bytes (read before parsing); more ⇒ 400 naming "body".</summary>
    [Range(1024, 1_048_576)]
    public int MaxBodyBytes { get; set; } = 16_384;
}
