// Drill: retry-storm (docs/failure-modes/retry-storm.md). Payment's capacity is cut to a third while orders arrive at
// 70 % of its HEALTHY capacity (35 orders/s = 70 charges/s of 100: an order is an authorize and a capture).
// reproduce: two naive retry layers (Ordering: 3 immediate retries, 300 ms attempt timeout; Payment: 3 retries of its
// provider call), abandoned attempts still served — amplification ≥ 3, and the overload outlives its trigger
// (capacity restored, still failing: metastable). contain: one retry layer with backoff + jitter under the budget,
// the breaker (with its PaymentPending fallback), Payment retries nothing itself and sheds retries first —
// amplification ≤ 1.5 (≤ 1.2 with the budget), goodput ≥ 85 % of the degraded capacity, recovered within 10 s of the
// trigger's end. Criteria: failure-modes.md § 2, the 30 s recovery window scaled to two 10 s windows.
// Goodput against the degraded capacity is counted where that capacity is: charges Payment did for a caller still
// waiting for the answer, per second, ÷ its degraded 30 charges/s — a storm spends the capacity on attempts whose
// caller already gave up; a fast 202 does no charge at all, so neither can pass for goodput. The orders authorized at
// once (201) are recorded beside it.
using System.Net.Http.Json;
using System.Text.Json;

using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class RetryStormDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    private const double Rps = 35;                 // 70 % of the healthy 50 orders/s
    private const double DegradedChargesPerSecond = 30; // 3 slots × 10 charges/s (100 ms each)
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
        // Orders alternate over the Ordering replicas, as a load balancer spreads them (see the circuit-breaker drill).
        using var ordering = new ReplicaClients(system, "ordering", TimeSpan.FromSeconds(30));
        Func<HttpClient> http = ordering.Next;
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
        await drill.SettledAsync(Ct); // the storm's deferred work (PaymentPending orders) is not contain's load
        await drill.SetAsync("contain", Degraded, Ct);
        var contained = await WindowAsync(http, "contain degraded");
        var contained2 = await WindowAsync(http, "contain degraded 2");
        await drill.SetAsync("contain", Restored, Ct);
        var relief1 = await WindowAsync(http, "contain restored 0-10s");
        var relief2 = await WindowAsync(http, "contain restored 10-20s");

        await drill.SetAsync("off", Ct);
        await drill.DrainPaymentAsync(Ct);
        var settled = await drill.SettledAsync(Ct);
        drill.Record($"after the drill: {settled}");

        Assert.True(baseline.Amplification <= 1.05, $"baseline amplification {baseline.Amplification:0.00}");
        // reproduce: retries multiply the load ≥ 3 ×, and with capacity back the system is still down (metastable).
        Assert.True(storm.Amplification >= 3, $"reproduce amplification {storm.Amplification:0.00}, expected ≥ 3");
        Assert.True(storm.ChargeGoodput < 0.5 * DegradedChargesPerSecond,
            $"reproduce: {storm.ChargeGoodput:0.0} charges/s answered to a waiting caller, expected < 50 % of the degraded {DegradedChargesPerSecond}/s");
        Assert.True(stormRelief2.Goodput < 0.5 * Rps, $"reproduce: recovered within 10-20 s of the trigger's end (goodput {stormRelief2.Goodput:0.0}/s)");
        // contain: amplification ≤ 1.2 (budget on) while degraded and after, goodput ≥ 85 % of the degraded capacity,
        // recovered within 10 s.
        foreach (var window in new[] { contained, contained2, relief1, relief2 })
        {
            Assert.True(window.Amplification <= 1.2, $"{window.Name}: amplification {window.Amplification:0.00}, expected ≤ 1.2");
        }
        Assert.True(contained2.ChargeGoodput >= 0.85 * DegradedChargesPerSecond,
            $"contain: {contained2.ChargeGoodput:0.0} charges/s answered to a waiting caller, expected ≥ 85 % of the degraded {DegradedChargesPerSecond}/s");
        // Recovered within 10 s: full goodput already in the first 10 s after the trigger's end, or from 10 s on. A storm
        // that comes back shows as retries, judged above in both windows; a dip with none is the host's. (A CI rehearsal,
        // 2026-12-06 23:18 UTC: 0-10 s 350 of 350 in the SLO, then a 2.3 s stall in 10-20 s with amplification 1.00.)
        Assert.True(relief1.Goodput >= 0.9 * Rps || relief2.Goodput >= 0.9 * Rps,
            $"contain: not recovered within 10 s of the trigger's end (goodput 0-10 s {relief1.Goodput:0.0}/s, 10-20 s {relief2.Goodput:0.0}/s)");
        _ = stormRelief1;
    }


    private async Task<WindowResult> WindowAsync(Func<HttpClient> http, string name)
    {
        await drill.ResetStatsAsync(Ct);
        var counting = TimeProvider.System.GetTimestamp();
        // The load report's goodput: 2xx within the 1 s SLO (recovery is judged on it); an order accepted as PaymentPending
        // (202) counts there, it settles later.
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus);
        var load = await OpenLoopLoad.RunAsync(name, new LoadOptions([LoadStage.Constant(Rps, Window)], TimeSpan.FromSeconds(1),
            RequestTimeout: TimeSpan.FromSeconds(30)), traffic.PlaceAsync, Ct);
        var payment = (await drill.StatsAsync("payment", Ct)).Single();
        var counted = TimeProvider.System.GetElapsedTime(counting); // the window plus its slowest answers
        var (first, retry) = (Drill.Read(payment, "payment.requests.byOperation.authorize.first"), Drill.Read(payment, "payment.requests.byOperation.authorize.retry"));
        var providerRetries = Drill.Read(payment, "payment.providerRetries");
        var (answered, abandoned) = (Drill.Read(payment, "payment.charges.answered"), Drill.Read(payment, "payment.charges.abandoned"));
        using var capacity = JsonDocument.Parse(await system.Payment.GetStringAsync("/admin/capacity", Ct));
        var admitted = load.Sent - traffic.ShedAtTheDoor;
        var result = new WindowResult(name, first, retry, admitted, load.GoodputRps, answered / counted.TotalSeconds);
        drill.Record(load);
        drill.Record($"  {name}: {traffic}; Payment authorize {first} first + {retry} retries for {admitted} orders admitted ({traffic.ShedAtTheDoor} shed at the door) ⇒ amplification " +
            $"{result.Amplification:0.00}; provider retries {providerRetries}; charges answered {answered}, abandoned {abandoned} in {counted.TotalSeconds:0.0} s ⇒ " +
            $"goodput {result.ChargeGoodput:0.0} charges/s ({result.ChargeGoodput / DegradedChargesPerSecond:P0} of the degraded capacity); " +
            $"authorized at once {traffic.Count(201) / Window.TotalSeconds:0.0}/s; 2xx in SLO {result.Goodput:0.0}/s; " +
            $"Payment queue at the end {capacity.RootElement.GetProperty("queued").GetInt32()}");
        return result;
    }

    /// <param name="Goodput">2xx within the SLO per second (orders).</param>
    /// <param name="ChargeGoodput">Charges Payment answered to a caller still waiting, per second.</param>
    private sealed record WindowResult(string Name, long First, long Retry, long Orders, double Goodput, double ChargeGoodput)
    {
        /// <summary>Attempts Payment received ÷ logical order requests: the orders Ordering's door admitted. One it shed
        /// (10 permits per replica, no queue: part of 35/s when each order waits out 4 × 300 ms) made no request at all.</summary>
        public double Amplification => Orders == 0 ? 0 : (double)(First + Retry) / Orders;
    }
}
