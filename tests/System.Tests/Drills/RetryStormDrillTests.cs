// Drill: retry-storm (docs/failure-modes/retry-storm.md). Payment's capacity is cut to a third while orders arrive at
// 70 % of its HEALTHY capacity (35 orders/s = 70 charges/s of 100: an order is an authorize and a capture).
// reproduce: two naive retry layers (Ordering: 3 immediate retries, 300 ms attempt timeout; Payment: 3 retries of its
// provider call), abandoned attempts still served — amplification ≥ 3, and the overload outlives its trigger
// (capacity restored, still failing: metastable). contain: one retry layer with backoff + jitter under the budget,
// the breaker (with its PaymentPending fallback), Payment never retries a retry and sheds retries first —
// amplification ≤ 1.5 (≤ 1.2 with the budget), goodput (2xx within the SLO) ≥ 85 % of the degraded capacity,
// recovered within 10 s of the trigger's end. Criteria: failure-modes.md § 2,
// the 30 s recovery window scaled to two 10 s windows.
using System.Net.Http.Json;
using System.Text.Json;

using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class RetryStormDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    private const double Rps = 35;                 // 70 % of the healthy 50 orders/s
    private const double DegradedOrdersPerSecond = 15; // 3 slots × 10 charges/s ÷ 2 charges per order
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private static readonly object Degraded = new { capacityFraction = 0.3 };
    private static readonly object Restored = new { capacityFraction = 1.0 };
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly Drill drill = new(system, "retry-storm", output);

    public async ValueTask InitializeAsync() => await OrderTraffic.RaiseStockAsync(system, Ct);

    public async ValueTask DisposeAsync()
    {
        await drill.ResetModesAsync(CancellationToken.None);
        await drill.DrainPaymentAsync(CancellationToken.None);
    }

    [Fact]
    public async Task DegradedPayment_ReproduceStormsAndStaysDown_ContainHoldsGoodputAndRecovers()
    {
        using var http = new HttpClient { BaseAddress = system.Ordering.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        await OrderTraffic.WarmUpAsync(http, Ct);
        drill.Record(LoadReport.Header);
        var baseline = await WindowAsync(http, "baseline");

        await drill.SetAsync("reproduce", Degraded, Ct);
        var storm = await WindowAsync(http, "reproduce degraded");
        await drill.SetAsync("reproduce", Restored, Ct);  // the trigger is gone; the naive code is still there
        var stormRelief1 = await WindowAsync(http, "reproduce restored 0-10s");
        var stormRelief2 = await WindowAsync(http, "reproduce restored 10-20s");

        await drill.SetAsync("off", Ct);
        await drill.DrainPaymentAsync(Ct);
        await WaitUntilSettledAsync(); // the storm's deferred work (PaymentPending orders) is not contain's load
        await drill.SetAsync("contain", Degraded, Ct);
        var contained = await WindowAsync(http, "contain degraded");
        var contained2 = await WindowAsync(http, "contain degraded 2");
        await drill.SetAsync("contain", Restored, Ct);
        var relief1 = await WindowAsync(http, "contain restored 0-10s");
        var relief2 = await WindowAsync(http, "contain restored 10-20s");

        await drill.SetAsync("off", Ct);
        await drill.DrainPaymentAsync(Ct);
        var settled = await WaitUntilSettledAsync();
        drill.Record($"after the drill: {settled}");

        Assert.True(baseline.Amplification <= 1.05, $"baseline amplification {baseline.Amplification:0.00}");
        // reproduce: retries multiply the load ≥ 3 ×, and with capacity back the system is still down (metastable).
        Assert.True(storm.Amplification >= 3, $"reproduce amplification {storm.Amplification:0.00}, expected ≥ 3");
        Assert.True(stormRelief2.Goodput < 0.5 * Rps, $"reproduce: recovered within 10-20 s of the trigger's end (goodput {stormRelief2.Goodput:0.0}/s)");
        // contain: amplification ≤ 1.2 (budget on), goodput ≥ 85 % of the degraded capacity, recovered within 10 s.
        foreach (var window in new[] { contained, contained2 })
        {
            Assert.True(window.Amplification <= 1.2, $"{window.Name}: amplification {window.Amplification:0.00}, expected ≤ 1.2");
        }
        Assert.True(contained2.Goodput >= 0.85 * DegradedOrdersPerSecond,
            $"contain goodput {contained2.Goodput:0.0}/s, expected ≥ 85 % of the degraded {DegradedOrdersPerSecond}/s");
        Assert.True(relief2.Goodput >= 0.9 * Rps, $"contain: not recovered 10-20 s after the trigger's end (goodput {relief2.Goodput:0.0}/s)");
        _ = (stormRelief1, relief1);
    }

    private Task<InvariantReport> WaitUntilSettledAsync() => Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct),
        r => r.AllZero, TimeSpan.FromMinutes(3), "every order settled, invariants zero");

    private async Task<WindowResult> WindowAsync(HttpClient http, string name)
    {
        await drill.ResetStatsAsync(Ct);
        // Goodput: 2xx within the SLO (the spec's definition) — an order accepted as PaymentPending (202) counts, it settles
        // later; 201s (authorized at once) are recorded beside it.
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus);
        var load = await OpenLoopLoad.RunAsync(name, new LoadOptions([LoadStage.Constant(Rps, Window)], TimeSpan.FromSeconds(1),
            RequestTimeout: TimeSpan.FromSeconds(30)), traffic.PlaceAsync, Ct);
        var payment = (await drill.StatsAsync("payment", Ct)).Single();
        var (first, retry) = (Drill.Read(payment, "payment.requests.byOperation.authorize.first"), Drill.Read(payment, "payment.requests.byOperation.authorize.retry"));
        var providerRetries = Drill.Read(payment, "payment.providerRetries");
        using var capacity = JsonDocument.Parse(await system.Payment.GetStringAsync("/admin/capacity", Ct));
        var result = new WindowResult(name, first, retry, load.Sent, load.GoodputRps);
        drill.Record(load);
        drill.Record($"  {name}: {traffic}; Payment authorize {first} first + {retry} retries for {load.Sent} orders ⇒ amplification " +
            $"{result.Amplification:0.00}; provider retries {providerRetries}; goodput (2xx in SLO) {result.Goodput:0.0}/s; " +
            $"Payment queue at the end {capacity.RootElement.GetProperty("queued").GetInt32()}");
        return result;
    }

    private sealed record WindowResult(string Name, long First, long Retry, long Orders, double Goodput)
    {
        /// <summary>Attempts Payment received ÷ logical order requests.</summary>
        public double Amplification => Orders == 0 ? 0 : (double)(First + Retry) / Orders;
    }
}
