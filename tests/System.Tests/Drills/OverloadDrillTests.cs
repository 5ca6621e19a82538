// Drill: overload (docs/failure-modes/overload.md). First the capacity C is MEASURED in this run (the highest offered
// rate whose p99 ≤ 1 s with < 1 % failures), then 3 × C is offered. reproduce: no limiter at the door — every request
// is admitted, queues fill, latency passes the SLO and goodput collapses while the system stays busy. contain: the
// concurrency limiter with its small queue sheds the excess at once (503 + Retry-After), stale queued requests are
// dropped, so what is admitted is served within the SLO: goodput stays near C. Afterwards, at 0.5 × C, latency is
// back to baseline within 5 s. Criteria: failure-modes.md § 4.
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class OverloadDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Slo = TimeSpan.FromSeconds(1);
    private static readonly double[] CapacitySteps = [20, 40, 60, 80, 100, 120, 140];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly Drill drill = new(system, "overload", output);

    public async ValueTask InitializeAsync() => await OrderTraffic.RaiseStockAsync(system, Ct);

    public async ValueTask DisposeAsync()
    {
        await drill.ResetModesAsync(CancellationToken.None);
        await drill.DrainPaymentAsync(CancellationToken.None);
    }

    [Fact]
    public async Task ThreeTimesCapacity_ReproduceCollapsesGoodput_ContainKeepsItNearCapacity()
    {
        using var http = new HttpClient { BaseAddress = system.Ordering.BaseAddress, Timeout = TimeSpan.FromSeconds(15) };
        await OrderTraffic.WarmUpAsync(http, Ct);
        drill.Record(LoadReport.Header);

        // C: the highest step that still meets the SLO (p99 ≤ 1 s, < 1 % not served).
        var capacity = CapacitySteps[0];
        foreach (var rps in CapacitySteps)
        {
            var step = await RunAsync(http, $"capacity step {rps}/s", [LoadStage.Constant(rps, TimeSpan.FromSeconds(5))]);
            if (step.P99Ms > Slo.TotalMilliseconds || step.Succeeded < 0.99 * step.Sent) break;
            capacity = rps;
        }
        drill.Record($"  measured capacity C = {capacity} orders/s");
        await SettleAsync();
        var baseline = await RunAsync(http, "baseline 0.5C", [LoadStage.Constant(0.5 * capacity, TimeSpan.FromSeconds(5))]);

        await drill.SetAsync("reproduce", Ct);
        var reproduce = await RunAsync(http, "reproduce 3C", [LoadStage.Constant(3 * capacity, TimeSpan.FromSeconds(15))]);
        await drill.SetAsync("off", Ct);
        await SettleAsync();

        await drill.SetAsync("contain", Ct);
        var contain2 = await RunAsync(http, "contain 2C", [LoadStage.Constant(2 * capacity, TimeSpan.FromSeconds(5))]);
        var contain = await RunAsync(http, "contain 3C", [LoadStage.Constant(3 * capacity, TimeSpan.FromSeconds(15))]);
        var admission = await drill.StatsAsync("ordering", Ct);
        drill.Record($"  contain: in-flight writes peaked at {admission.Max(s => Drill.Read(s, "ordering.admission.writesInFlightMax"))} " +
            $"per replica; stale queued requests dropped {admission.Sum(s => Drill.Read(s, "ordering.admission.droppedStale"))}");
        var after1 = await RunAsync(http, "contain 0.5C 0-5s", [LoadStage.Constant(0.5 * capacity, TimeSpan.FromSeconds(5))]);
        var after2 = await RunAsync(http, "contain 0.5C 5-10s", [LoadStage.Constant(0.5 * capacity, TimeSpan.FromSeconds(5))]);

        await drill.SetAsync("off", Ct);
        await drill.DrainPaymentAsync(Ct);
        var settled = await Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct), r => r.AllZero, TimeSpan.FromMinutes(3),
            "every order settled after the drill, invariants zero");
        drill.Record($"goodput ÷ C: reproduce {reproduce.GoodputRps / capacity:0.00}, contain 2C {contain2.GoodputRps / capacity:0.00}, " +
            $"contain 3C {contain.GoodputRps / capacity:0.00}; {settled}");

        Assert.Equal(0, reproduce.Dropped + contain.Dropped); // the generator kept its schedule: the offered load was real
        // reproduce: goodput < 30 % of C at 3 × C.
        Assert.True(reproduce.GoodputRps < 0.3 * capacity, $"reproduce goodput {reproduce.GoodputRps:0.0}/s, expected < 30 % of C = {capacity}");
        // contain: goodput ≥ 90 % of C, admitted p99 ≤ 1 s, rejections p99 ≤ 20 ms.
        Assert.True(contain.GoodputRps >= 0.9 * capacity, $"contain goodput {contain.GoodputRps:0.0}/s, expected ≥ 90 % of C = {capacity}");
        Assert.True(contain.SuccessP99Ms <= Slo.TotalMilliseconds, $"contain admitted p99 {contain.SuccessP99Ms:0} ms");
        Assert.True(contain.RejectedP99Ms <= 20, $"contain rejections p99 {contain.RejectedP99Ms:0.0} ms, expected ≤ 20 ms");
        // afterwards at 0.5 × C: back to baseline within 5 s.
        Assert.True(after2.P99Ms <= Math.Max(1.5 * baseline.P99Ms, baseline.P99Ms + 50), $"0.5C after contain: p99 {after2.P99Ms:0} ms vs baseline {baseline.P99Ms:0} ms");
        _ = after1;
    }

    private async Task<LoadReport> RunAsync(HttpClient http, string name, IReadOnlyList<LoadStage> stages)
    {
        await drill.ResetStatsAsync(Ct);
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus);
        var report = await OpenLoopLoad.RunAsync(name, new LoadOptions(stages, Slo, MaxInFlight: 5000, RequestTimeout: TimeSpan.FromSeconds(15)),
            traffic.PlaceAsync, Ct);
        drill.Record(report);
        drill.Record($"  {name}: {traffic}");
        return report;
    }

    // Between phases: wait until no placement is in flight anywhere, so one phase's backlog is not the next one's load.
    private Task SettleAsync() => Eventually.WaitAsync(
        async () => (await drill.StatsAsync("ordering", Ct)).Sum(s => Drill.Read(s, "ordering.admission.writesInFlight")),
        inFlight => inFlight == 0, TimeSpan.FromSeconds(60), "no placement in flight");
}
