// All-or-nothing stock reservation in ONE transaction: inbox accept + conditional UPDATE per line + reservation rows
// + outcome + outbox event. Stock never goes below zero under any concurrency (the UPDATE's WHERE and the CHECK), a
// redelivered message changes nothing (inbox), and the event commits with the change (outbox). Doc: docs/failure-modes/race-conditions.md
using Dapper;
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.FailureModes;
using ReliableShop.Inventory.Catalog;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Reservations;

public enum ReservationResult { Reserved, Rejected, Duplicate }

public sealed class StockReservation(NpgsqlDataSource db, CatalogCache cache, CatalogChanges changes, FailureModeToggles toggles, TimeProvider time)
{
    public const string InboxConsumer = "inventory.order-placed";
    public const string RaceMode = "race-conditions", StaleCacheMode = "stale-cache";

    // NAIVE (race-conditions: reproduce) - read, check in C#, write the computed value back, with no lock and no
    // condition. Two reservations that read "available = 1" both pass the check and both write 0: the second UPDATE
    // waits for the first's row lock, then overwrites its result (a lost update). Stock never goes below 0 (the CHECK
    // still holds), yet both insert a reservation: the same unit is sold twice, which only counting reservations
    // against received stock reveals (Invariants/InventoryInvariants.cs: oversoldSkus).
    private const string NaiveReadStockSql = "SELECT available FROM catalog_items WHERE sku = @Sku";
    private const string NaiveWriteStockSql = "UPDATE catalog_items SET available = @Available, version = version + 1 WHERE sku = @Sku RETURNING version";

    // Atomic check-and-decrement: two concurrent reservations of the last unit serialise on the row lock and the
    // second re-checks "available >= @Quantity" against the committed value — 0 rows, never a negative stock.
    private const string TakeStockSql = """
        UPDATE catalog_items SET available = available - @Quantity, version = version + 1
        WHERE sku = @Sku AND available >= @Quantity
        RETURNING version
        """;

    public async Task<ReservationResult> ReserveAsync(Guid orderId, IReadOnlyList<OrderLine> lines, Guid messageId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!await Inbox.TryAcceptAsync(connection, tx, InboxConsumer, messageId, ct))
        {
            await tx.CommitAsync(ct); // a redelivery of the same message: change nothing
            return ReservationResult.Duplicate;
        }
        if (await StoredOutcomeAsync(connection, tx, orderId, ct) is { } stored)
        {
            // The order was decided before and is re-sent under a new MessageId (an operator's replay after a lost
            // outcome event, or an authorize job that ran twice): never decide twice, answer the stored decision again.
            // Ordering absorbs a repeated outcome (conditional UPDATE Placed → …, job unique keys).
            await OutboxWriter.EnqueueAsync(connection, tx, stored, ct);
            await tx.CommitAsync(ct);
            return ReservationResult.Duplicate;
        }
        // One UPDATE per SKU, in SKU order: concurrent orders lock rows in the same order and cannot deadlock.
        var wanted = lines.GroupBy(l => l.Sku, StringComparer.Ordinal)
            .Select(g => (Sku: g.Key, Quantity: g.Sum(l => l.Quantity))).OrderBy(l => l.Sku, StringComparer.Ordinal).ToList();
        await tx.SaveAsync("reserve", ct);
        var race = toggles[RaceMode];
        var (shortage, taken) = Invalid(wanted) is { } invalid ? (invalid, [])
            : race.Naive ? await TakeStockNaivelyAsync(connection, tx, wanted, TimeSpan.FromMilliseconds(race["raceWindowMs"]), ct)
            : await TakeStockAsync(connection, tx, wanted, ct);
        if (shortage is not null)
        {
            await tx.RollbackAsync("reserve", ct); // all or nothing: undo the lines already taken
            await RecordOutcomeAsync(connection, tx, orderId, "rejected", shortage, ct);
            await OutboxWriter.EnqueueAsync(connection, tx, new StockRejected(orderId, shortage), ct);
            await tx.CommitAsync(ct);
            return ReservationResult.Rejected;
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO reservations (order_id, sku, quantity) SELECT @OrderId, unnest(@Skus), unnest(@Quantities)",
            new { OrderId = orderId, Skus = wanted.Select(w => w.Sku).ToArray(), Quantities = wanted.Select(w => w.Quantity).ToArray() },
            tx, cancellationToken: ct));
        await RecordOutcomeAsync(connection, tx, orderId, "reserved", null, ct);
        await OutboxWriter.EnqueueAsync(connection, tx, new StockReserved(orderId), ct);
        await tx.CommitAsync(ct);
        // NAIVE (stale-cache: reproduce): this write path forgets to invalidate; the cached stock stays until its TTL.
        // Control: invalidate after commit (the cached stock figures are now stale).
        if (!toggles[StaleCacheMode].Naive) await cache.InvalidateAsync(taken);
        await changes.AnnounceCommitAsync(taken); // measurement: starts the staleness probes
        return ReservationResult.Reserved;
    }

    /// <summary>Takes every line or stops at the first short one, returning why (the caller then rolls back).</summary>
    private static async Task<(string? Shortage, List<(string Sku, long Version)> Taken)> TakeStockAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, List<(string Sku, int Quantity)> wanted, CancellationToken ct)
    {
        var taken = new List<(string Sku, long Version)>();
        foreach (var (sku, quantity) in wanted)
        {
            var version = await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
                TakeStockSql, new { Sku = sku, Quantity = quantity }, tx, cancellationToken: ct));
            if (version is null)
            {
                return (await DescribeShortageAsync(connection, tx, sku, quantity, ct), taken);
            }
            taken.Add((sku, version.Value));
        }
        return (null, taken);
    }

    /// <summary>The naive read-check-write (see NaiveReadStockSql): the pause widens the window between the read and the write.</summary>
    private async Task<(string? Shortage, List<(string Sku, long Version)> Taken)> TakeStockNaivelyAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, List<(string Sku, int Quantity)> wanted, TimeSpan raceWindow, CancellationToken ct)
    {
        var taken = new List<(string Sku, long Version)>();
        foreach (var (sku, quantity) in wanted)
        {
            var available = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
                NaiveReadStockSql, new { Sku = sku }, tx, cancellationToken: ct));
            if (available is null || available < quantity)
            {
                return (await DescribeShortageAsync(connection, tx, sku, quantity, ct), taken);
            }
            if (raceWindow > TimeSpan.Zero) await Task.Delay(raceWindow, time, ct);
            var version = await connection.QuerySingleAsync<long>(new CommandDefinition(
                NaiveWriteStockSql, new { Sku = sku, Available = available - quantity }, tx, cancellationToken: ct));
            taken.Add((sku, version));
        }
        return (null, taken);
    }

    private static string? Invalid(List<(string Sku, int Quantity)> wanted) =>
        wanted.Count == 0 ? "order has no lines"
        : wanted.FirstOrDefault(w => w.Quantity <= 0) is { Sku: not null } bad ? $"{bad.Sku}: quantity must be positive, was {bad.Quantity}"
        : null;

    /// <summary>The event that announced this order's recorded outcome; null when the order was never decided.</summary>
    private static async Task<object?> StoredOutcomeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid orderId, CancellationToken ct)
    {
        var stored = await connection.QuerySingleOrDefaultAsync<(string Outcome, string? Reason)?>(new CommandDefinition(
            "SELECT outcome, reason FROM reservation_outcomes WHERE order_id = @OrderId", new { OrderId = orderId }, tx, cancellationToken: ct));
        return stored switch
        {
            null => null,
            ("reserved", _) => new StockReserved(orderId),
            var (_, reason) => new StockRejected(orderId, reason ?? "rejected"),
        };
    }

    private static async Task<string> DescribeShortageAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string sku, int quantity, CancellationToken ct)
    {
        var available = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "SELECT available FROM catalog_items WHERE sku = @Sku", new { Sku = sku }, tx, cancellationToken: ct));
        return available is null ? $"{sku}: unknown SKU" : $"{sku}: insufficient stock (requested {quantity}, available {available})";
    }

    // The outcome's PRIMARY KEY (order_id) makes a concurrent second delivery of the same order fail and retry as a duplicate.
    private Task RecordOutcomeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid orderId, string outcome, string? reason, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO reservation_outcomes (order_id, outcome, reason, at) VALUES (@OrderId, @Outcome, @Reason, @At)",
            new { OrderId = orderId, Outcome = outcome, Reason = reason, At = time.GetUtcNow() }, tx, cancellationToken: ct));
}
