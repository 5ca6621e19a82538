// GET /admin/invariants, the system view every drill ends on: zero on a healthy settled system, and each deliberate
// corruption (made by SQL in one service's database) shows up as exactly its own violation — then zero again once
// undone, so the rest of the collection reads a clean system. Code: services/*/Invariants.
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests;

[Collection(SystemCollection.Name)]
public sealed class InvariantsTests(SystemFixture system, ITestOutputHelper output)
{
    private const int SettleSeconds = 5;
    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(30);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Invariants_SettledOrders_TotalZero()
    {
        await PlaceAndSettleAsync("SKU-0045", 3);

        var report = await ZeroAsync();

        Assert.Equal(0, report.Total);
        Assert.Contains("ordering.unsettledOrders", report.Violations.Keys);
        Assert.Contains("inventory.oversoldSkus", report.Violations.Keys);
        Assert.Contains("payment.capturesPerOrderAboveOne", report.Violations.Keys);
        Assert.Contains("phantomReservations", report.Violations.Keys);
    }

    [Fact]
    public async Task Invariants_OversellDuplicateCaptureAndLostEvent_EachReportedThenZeroOnceUndone()
    {
        const string sku = "SKU-0046";
        var confirmed = (await PlaceAndSettleAsync(sku, 2)).First(o => o.Value == "Confirmed").Key;
        await ZeroAsync();
        var received = await Invariants.ScalarAsync(system.InventoryDb, "SELECT received FROM catalog_items WHERE sku = $1", Ct, sku);
        var (authorization, lostOrder) = (Guid.NewGuid(), Guid.NewGuid());
        try
        {
            // Oversell: the SKU's reservations now exceed every unit it ever had.
            await ExecuteAsync(system.InventoryDb, """
                UPDATE catalog_items SET received = (SELECT sum(quantity) FROM reservations WHERE sku = $1) - 1 WHERE sku = $1
                """, sku);
            // Duplicate charge: a second authorization of the confirmed order, captured too.
            await ExecuteAsync(system.Payments, """
                INSERT INTO authorizations (id, idempotency_key, request_hash, order_id, amount, currency, status, created_at, updated_at)
                VALUES ($1, 'systest-duplicate-' || $1, 'corrupt', $2, 1.00, 'EUR', 'captured', now(), now());
                """, authorization, confirmed);
            await ExecuteAsync(system.Payments, "INSERT INTO captures (authorization_id, amount, captured_at) VALUES ($1, 1.00, now())", authorization);
            // Lost event: an order placed an hour ago whose OrderPlaced never left (no outbox row, no outcome).
            await ExecuteAsync(system.Orders, """
                INSERT INTO orders (id, idempotency_key, request_hash, customer_id, status, total, created_at, updated_at)
                VALUES ($1, 'systest-lost-' || $1, 'corrupt', 'systest', 'Placed', 1.00, now() - interval '1 hour', now() - interval '1 hour')
                """, lostOrder);

            var report = await Invariants.CheckAsync(system, Ct, SettleSeconds);
            output.WriteLine(report.ToString());

            Assert.Equal(new Dictionary<string, long>
            {
                ["inventory.oversoldSkus"] = 1,
                ["payment.capturesPerOrderAboveOne"] = 1,
                ["payment.authorizationsPerOrderAboveOne"] = 1, // the duplicate charge needed a duplicate authorization
                ["ordersWithoutOutcome"] = 1,
                ["ordering.unsettledOrders"] = 1,                // the lost order also never settles
            }, report.NonZero);
            Assert.Equal(report.Violations.Values.Sum(), report.Total);
        }
        finally
        {
            await ExecuteAsync(system.InventoryDb, "UPDATE catalog_items SET received = $2 WHERE sku = $1", sku, (int)received);
            await ExecuteAsync(system.Payments, "DELETE FROM captures WHERE authorization_id = $1", authorization);
            await ExecuteAsync(system.Payments, "DELETE FROM authorizations WHERE id = $1", authorization);
            await ExecuteAsync(system.Orders, "DELETE FROM orders WHERE id = $1", lostOrder);
        }
        await ZeroAsync();
    }

    private async Task<Dictionary<Guid, string>> PlaceAndSettleAsync(string sku, int orders)
    {
        var placed = await Task.WhenAll(Enumerable.Range(0, orders).Select(_ => system.Ordering.PlaceOrderAsync([(sku, 1)], Ct)));
        return await system.Ordering.WaitUntilSettledAsync(placed.Select(p => p.Id), TimeSpan.FromSeconds(30), Ct);
    }

    private async Task<InvariantReport> ZeroAsync()
    {
        var report = await Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct, SettleSeconds), r => r.AllZero,
            Converge, "invariants at zero");
        output.WriteLine(report.ToString());
        return report;
    }

    private static async Task ExecuteAsync(Npgsql.NpgsqlDataSource db, string sql, params object[] parameters)
    {
        await using var command = db.CreateCommand(sql);
        foreach (var parameter in parameters) command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = parameter });
        await command.ExecuteNonQueryAsync(Ct);
    }
}
