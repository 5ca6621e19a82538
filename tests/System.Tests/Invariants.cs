// The system's invariants, computed by SQL across the three databases. Each number must be zero after settling.
using Npgsql;

namespace ReliableShop.SystemTests;

public sealed record InvariantReport(
    long NegativeStock,
    long ReservedNotConfirmed,
    long ConfirmedWithoutOneCapture,
    long CancelledNotVoidedOnce,
    long CapturedButCancelled,
    long PendingOutboxOrders,
    long PendingOutboxInventory)
{
    public bool AllZero => this == new InvariantReport(0, 0, 0, 0, 0, 0, 0);
}

public static class Invariants
{
    public static async Task<InvariantReport> CheckAsync(SystemFixture system, CancellationToken ct)
    {
        var orders = await ReadOrdersAsync(system.Orders, ct);
        var confirmedUnits = orders.Where(o => o.Status == "Confirmed").SelectMany(o => o.Lines)
            .GroupBy(l => l.Sku).ToDictionary(g => g.Key, g => g.Sum(l => l.Quantity));
        var reservedUnits = await QueryAsync(system.InventoryDb,
            "SELECT sku, sum(quantity)::int FROM reservations GROUP BY sku", r => (r.GetString(0), r.GetInt32(1)), ct);
        var reservedNotConfirmed = reservedUnits.Count(r => confirmedUnits.GetValueOrDefault(r.Item1) != r.Item2)
            + confirmedUnits.Count(c => reservedUnits.All(r => r.Item1 != c.Key));

        var captures = (await QueryAsync(system.Payments, "SELECT authorization_id FROM captures", r => r.GetGuid(0), ct)).ToHashSet();
        var voids = (await QueryAsync(system.Payments, "SELECT authorization_id FROM voids", r => r.GetGuid(0), ct)).ToHashSet();
        var confirmed = orders.Where(o => o.Status == "Confirmed").ToList();
        var cancelled = orders.Where(o => o.Status == "Cancelled").ToList();

        return new InvariantReport(
            NegativeStock: await ScalarAsync(system.InventoryDb, "SELECT count(*) FROM catalog_items WHERE available < 0", ct),
            ReservedNotConfirmed: reservedNotConfirmed,
            ConfirmedWithoutOneCapture: confirmed.Count(o => !captures.Contains(o.AuthorizationId)),
            CancelledNotVoidedOnce: cancelled.Count(o => !voids.Contains(o.AuthorizationId)),
            CapturedButCancelled: cancelled.Count(o => captures.Contains(o.AuthorizationId)),
            PendingOutboxOrders: await ScalarAsync(system.Orders, "SELECT count(*) FROM outbox_messages WHERE status <> 'published'", ct),
            PendingOutboxInventory: await ScalarAsync(system.InventoryDb, "SELECT count(*) FROM outbox_messages WHERE status <> 'published'", ct));
    }

    private sealed record OrderRow(Guid Id, string Status, Guid AuthorizationId, List<(string Sku, int Quantity)> Lines);

    private static async Task<List<OrderRow>> ReadOrdersAsync(NpgsqlDataSource orders, CancellationToken ct)
    {
        var rows = await QueryAsync(orders,
            "SELECT o.id, o.status, o.payment_authorization_id, l.sku, l.quantity FROM orders o JOIN order_lines l ON l.order_id = o.id",
            r => (Id: r.GetGuid(0), Status: r.GetString(1), Auth: r.GetGuid(2), Sku: r.GetString(3), Qty: r.GetInt32(4)), ct);
        return rows.GroupBy(r => r.Id)
            .Select(g => new OrderRow(g.Key, g.First().Status, g.First().Auth, g.Select(r => (r.Sku, r.Qty)).ToList()))
            .ToList();
    }

    public static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql, CancellationToken ct)
    {
        await using var command = db.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<List<T>> QueryAsync<T>(NpgsqlDataSource db, string sql, Func<NpgsqlDataReader, T> map, CancellationToken ct)
    {
        await using var command = db.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await reader.ReadAsync(ct)) list.Add(map(reader));
        return list;
    }
}
