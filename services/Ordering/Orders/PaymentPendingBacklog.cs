// The PaymentPending fallback is a queue too, so it is bounded. Guarantee: a placement that cannot reach Payment is
// accepted as PaymentPending (202) only while fewer than Orders:MaxPaymentPending orders wait fleet-wide; past that it
// is shed with 503 + Retry-After and nothing is written. Why: a fallback without a bound turns an overload into a
// backlog that outlives it — the overload drill at 3 × C left 6,778 PaymentPending orders after 40 s, about 11 minutes
// of authorize jobs. Doc: docs/failure-modes/overload.md
using Microsoft.Extensions.Options;
using Npgsql;

namespace ReliableShop.Ordering.Orders;

public sealed class PaymentPendingBacklog(NpgsqlDataSource db, IOptions<OrdersOptions> options, TimeProvider time)
{
    // Counted through the partial index orders_payment_pending (OrderingSchema.PaymentPendingIndexSql).
    private const string CountSql = "SELECT count(*) FROM orders WHERE status = 'PaymentPending'";

    /// <summary>The count is re-read at most this often; in between, this replica adds the orders it accepted. Not seen:
    /// other replicas' acceptances within one interval, and acceptances still uncommitted when the count is read — the
    /// bound can be passed by about that many orders, no more.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(200);

    private readonly SemaphoreSlim refreshing = new(1, 1);
    private long counted, acceptedSince, refreshDue;

    /// <summary>True: the caller may accept one more order as PaymentPending. False: the backlog is full — shed.</summary>
    public async ValueTask<bool> TryAcceptAsync(CancellationToken ct)
    {
        if (await IsFullAsync(ct)) return false;
        Interlocked.Increment(ref acceptedSince);
        return true;
    }

    /// <summary>True when no order can be accepted as PaymentPending now (the same count TryAcceptAsync decides on).</summary>
    public async ValueTask<bool> IsFullAsync(CancellationToken ct)
    {
        if (time.GetTimestamp() >= Volatile.Read(ref refreshDue)) await RefreshAsync(ct);
        return Volatile.Read(ref counted) + Interlocked.Read(ref acceptedSince) >= options.Value.MaxPaymentPending;
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        if (!await refreshing.WaitAsync(0, ct)) return; // another placement is counting: decide on the last count
        try
        {
            if (time.GetTimestamp() < Volatile.Read(ref refreshDue)) return;
            await using var command = db.CreateCommand(CountSql);
            var count = (long)(await command.ExecuteScalarAsync(ct))!;
            Interlocked.Exchange(ref acceptedSince, 0);
            Volatile.Write(ref counted, count);
            Volatile.Write(ref refreshDue, time.GetTimestamp() + (long)(RefreshInterval.TotalSeconds * time.TimestampFrequency));
        }
        finally
        {
            refreshing.Release();
        }
    }
}
