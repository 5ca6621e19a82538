// The flash sale at the library level, against real PostgreSQL: stock 100, 500 concurrent single-unit reservations,
// ten runs per state. race-conditions=reproduce switches StockReservation to read-check-write (lost updates: sold
// exceeds stock while available never goes below 0); contain keeps the atomic conditional UPDATE (exactly 100 sold,
// 400 clean rejections). Doc: docs/failure-modes/race-conditions.md
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Contracts;
using ReliableShop.Inventory.Reservations;

namespace ReliableShop.Inventory.Tests;

public sealed class RaceConditionTests(RaceConditionTests.FlashSaleApp shared, ITestOutputHelper output) : IClassFixture<RaceConditionTests.FlashSaleApp>
{
    /// <summary>
    /// The Inventory app with a 60 s pool wait: 500 buyers on 100 pooled connections queue behind one row lock, and on
    /// a loaded 2-core machine the last of them waited past Npgsql's 15 s (CI, 2026-12-04). The wait is the test's
    /// queue, not the guarantee under test.
    /// </summary>
    public sealed class FlashSaleApp : IAsyncLifetime
    {
        public InventoryApp App { get; private set; } = null!;

        public async ValueTask InitializeAsync() => App = await InventoryApp.CreateAsync(poolWait: TimeSpan.FromSeconds(60));

        public async ValueTask DisposeAsync() => await App.DisposeAsync();
    }

    private const int Stock = 100, Buyers = 500, Runs = 10;
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    private StockReservation Reservation => shared.App.Services.GetRequiredService<StockReservation>();

    [Fact]
    public async Task FlashSale_Reproduce_OversellsInAtLeast9Of10Runs_Contain_SellsExactly100InEvery()
    {
        try
        {
            await SetModeAsync("reproduce");
            var naive = new List<RunResult>();
            for (var run = 0; run < Runs; run++) naive.Add(await FlashSaleAsync($"SKU-00{21 + run}"));
            output.WriteLine("reproduce: " + string.Join("; ", naive));

            await SetModeAsync("contain");
            var contained = new List<RunResult>();
            for (var run = 0; run < Runs; run++) contained.Add(await FlashSaleAsync($"SKU-00{31 + run}"));
            output.WriteLine("contain:   " + string.Join("; ", contained));

            // reproduce: sold > stock in ≥ 9 of 10 runs, and the CHECK kept available ≥ 0 throughout (lost updates, not negative stock)
            Assert.True(naive.Count(r => r.Sold > Stock) >= 9, "naive oversold in fewer than 9 of 10 runs: " + string.Join("; ", naive));
            Assert.All(naive, r => Assert.True(r.Available >= 0));
            Assert.True(await OversoldSkusAsync() >= 9);
            // contain: exactly 100 sold and 400 clean rejections in every run, stock exactly 0
            Assert.All(contained, r => Assert.Equal(new RunResult(Stock, Buyers - Stock, 0), r));
        }
        finally
        {
            await SetModeAsync("off");
        }
    }

    private async Task<RunResult> FlashSaleAsync(string sku)
    {
        await shared.App.ExecuteAsync(
            "UPDATE catalog_items SET available = $2, received = $2, version = version + 1 WHERE sku = $1", sku, Stock);
        using var start = new SemaphoreSlim(0);
        var buyers = Enumerable.Range(0, Buyers).Select(async _ =>
        {
            await start.WaitAsync(ct);
            return await Reservation.ReserveAsync(Guid.NewGuid(), [new OrderLine(sku, 1)], Guid.NewGuid(), ct);
        }).ToList();
        start.Release(Buyers);
        var results = await Task.WhenAll(buyers);
        var sold = await shared.App.ScalarAsync<int>("SELECT coalesce(sum(quantity), 0)::int FROM reservations WHERE sku = $1", sku);
        Assert.Equal(sold, results.Count(r => r == ReservationResult.Reserved)); // every "reserved" answer holds a reservation row
        return new RunResult(sold, results.Count(r => r == ReservationResult.Rejected),
            await shared.App.ScalarAsync<int>("SELECT available FROM catalog_items WHERE sku = $1", sku));
    }

    private Task<long> OversoldSkusAsync() => shared.App.ScalarAsync<long>(Invariants.InventoryInvariants.OversoldSkusSql);

    private async Task SetModeAsync(string state)
    {
        using var admin = shared.App.CreateAdminClient();
        (await admin.PutAsJsonAsync("/admin/failure-modes/race-conditions", new { state }, ct)).EnsureSuccessStatusCode();
    }

    private sealed record RunResult(int Sold, int Rejected, int Available)
    {
        public override string ToString() => $"sold {Sold}, rejected {Rejected}, available {Available}";
    }
}
