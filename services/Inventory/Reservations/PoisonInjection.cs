// background-jobs drill, producer side: while the mode is reproduce or contain, poisonPercent of the reserved orders
// also emit a MALFORMED StockReserved (no order id) through the outbox — the kind of message a producer bug leaves
// in a queue. Ordering's consumer must not loop on it (contain: straight to its _error queue). The real StockReserved
// of the order is unaffected, so every valid order still completes. Doc: docs/failure-modes/background-jobs.md
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.FailureModes;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Reservations;

public sealed class PoisonInjection(FailureModeToggles toggles, NpgsqlDataSource db)
{
    public const string Mode = "background-jobs";

    public async Task MaybeEmitAsync(ReservationResult result, CancellationToken ct)
    {
        var mode = toggles[Mode];
        if (result != ReservationResult.Reserved || !mode.FaultInjected || Random.Shared.NextDouble() * 100 >= mode["poisonPercent"]) return;
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await OutboxWriter.EnqueueAsync(connection, tx, new StockReserved(Guid.Empty), ct);
        await tx.CommitAsync(ct);
    }
}
