// End-to-end guarantees of the order flow through the running system (issue: Foundation, acceptance 1, 3, 5, 6).
// POST /api/orders → outbox → OrderPlaced → Inventory reserves (inbox, conditional UPDATE) → its outbox →
// StockReserved | StockRejected → Ordering's job queue → Payment capture | void → Confirmed | Cancelled.
using System.Diagnostics;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests;

[Collection(SystemCollection.Name)]
public sealed class OrderFlowTests(SystemFixture system, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PlaceOrder_HealthySystem_ConfirmedWithinTwoSeconds()
    {
        var order = await system.Ordering.PlaceOrderAsync([("SKU-0050", 1)], Ct);

        Assert.Equal(global::System.Net.HttpStatusCode.Created, order.Code);
        var started = Stopwatch.StartNew();
        var settled = await system.Ordering.WaitUntilSettledAsync([order.Id], TimeSpan.FromSeconds(2), Ct);
        output.WriteLine($"order {order.Id} {settled[order.Id]} after {started.ElapsedMilliseconds} ms");
        Assert.Equal("Confirmed", settled[order.Id]);
    }

    [Fact]
    public async Task ConcurrentOrders_ScarceStock_EverySettlesAndInvariantsHold()
    {
        // 20 SKUs × 6 units = 120 units for 200 orders of 1–2 units: some must be rejected, none may oversell.
        var skus = Enumerable.Range(1, 20).Select(i => $"SKU-{i:0000}").ToArray();
        foreach (var sku in skus) await system.SetStockAsync(sku, 6, Ct);
        var random = new Random(42);
        var requests = Enumerable.Range(0, 200)
            .Select(_ => (IReadOnlyList<(string, int)>)[(skus[random.Next(skus.Length)], random.Next(1, 3))])
            .ToList();

        var placed = await Task.WhenAll(requests.Select(lines => system.Ordering.PlaceOrderAsync(lines, Ct)));
        var settled = await system.Ordering.WaitUntilSettledAsync(placed.Select(p => p.Id), TimeSpan.FromSeconds(10), Ct);

        output.WriteLine($"confirmed {settled.Count(s => s.Value == "Confirmed")}, cancelled {settled.Count(s => s.Value == "Cancelled")}");
        Assert.Contains(settled.Values, s => s == "Cancelled");
        await AssertInvariantsEventuallyAsync();
    }

    [Fact]
    public async Task OrderingReplicaKilledWhileRelaying_NothingLostOrDuplicated()
    {
        var skus = Enumerable.Range(21, 10).Select(i => $"SKU-{i:0000}").ToArray();
        var placing = Task.WhenAll(Enumerable.Range(0, 120)
            .Select(i => system.Ordering.PlaceOrderAsync([(skus[i % skus.Length], 1)], Ct)));

        // Kill one Ordering replica (SIGKILL: no graceful shutdown, claimed outbox rows and jobs left leased).
        var victim = await Eventually.WaitAsync(() => Task.FromResult(OrderingProcesses().FirstOrDefault()),
            p => p is not null, TimeSpan.FromSeconds(10), "an Ordering process");
        await Eventually.WaitAsync(() => Invariants.ScalarAsync(system.Orders, "SELECT count(*) FROM orders", Ct),
            n => n >= 20, TimeSpan.FromSeconds(30), "orders placed before the kill");
        victim!.Kill(entireProcessTree: true);
        output.WriteLine($"killed Ordering pid {victim.Id}");

        var placed = (await placing).Select(p => p.Id).ToList();
        var settled = await system.Ordering.WaitUntilSettledAsync(placed, TimeSpan.FromSeconds(60), Ct);
        output.WriteLine($"{settled.Count} orders settled after the kill");
        await AssertInvariantsEventuallyAsync();

        // Restart the killed replica: it must pick up nothing twice, and the fleet keeps settling orders.
        await system.RestartKilledReplicaAsync("ordering", Ct);
        var after = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => system.Ordering.PlaceOrderAsync([(skus[i % skus.Length], 1)], Ct)));
        await system.Ordering.WaitUntilSettledAsync(after.Select(p => p.Id), TimeSpan.FromSeconds(30), Ct);
        await AssertInvariantsEventuallyAsync();
        // Every order produced exactly one reservation outcome (no lost, no duplicated OrderPlaced effect).
        Assert.Equal(await Invariants.ScalarAsync(system.Orders, "SELECT count(*) FROM orders", Ct),
            await Invariants.ScalarAsync(system.InventoryDb, "SELECT count(*) FROM reservation_outcomes", Ct) -
            await PreexistingOutcomesNotInOrdersAsync());
    }

    private async Task<long> PreexistingOutcomesNotInOrdersAsync()
    {
        var orderIds = (await Invariants.QueryAsync(system.Orders, "SELECT id FROM orders", r => r.GetGuid(0), Ct)).ToHashSet();
        var outcomes = await Invariants.QueryAsync(system.InventoryDb, "SELECT order_id FROM reservation_outcomes", r => r.GetGuid(0), Ct);
        return outcomes.Count(id => !orderIds.Contains(id));
    }

    private async Task AssertInvariantsEventuallyAsync()
    {
        var report = await Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct), r => r.AllZero,
            TimeSpan.FromSeconds(15), "invariants");
        output.WriteLine(report.ToString());
    }

    private static IEnumerable<Process> OrderingProcesses() =>
        Process.GetProcesses().Where(p =>
        {
            try
            {
                return p.ProcessName == "Ordering" ||
                    File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("Ordering.dll", StringComparison.Ordinal);
            }
            catch (IOException) { return false; }
            catch (UnauthorizedAccessException) { return false; }
        });
}
