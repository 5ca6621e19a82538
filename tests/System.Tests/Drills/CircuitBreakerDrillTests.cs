// Drill: circuit-breaker (docs/failure-modes/circuit-breaker.md). Payment hard down, then browning out (3 s latency,
// 30 % errors), under 50 orders/s. reproduce: the naive pipeline (no breaker, 10 s attempt timeout, 3 immediate
// retries, no fallback) — every call waits out every attempt and Payment receives all of them. contain: Payment's own
// breaker (attempt timeout inside it) opens within seconds, calls short-circuit, orders are accepted as
// PaymentPending (202) and settle after recovery; Inventory's breaker never opens. Criteria: failure-modes.md § 8.
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class CircuitBreakerDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    private const double Rps = 50; // the spec's rate: half-open probes (real requests) stay near 1 % of the traffic
    private static readonly object Fault = new { downSeconds = 10, brownoutLatencyMs = 3000, brownoutErrorRate = 0.3 };
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly Drill drill = new(system, "circuit-breaker", output);

    public async ValueTask InitializeAsync() => await OrderTraffic.RaiseStockAsync(system, Ct);

    public async ValueTask DisposeAsync() => await drill.ResetModesAsync(CancellationToken.None);

    [Fact]
    public async Task PaymentDownThenBrownout_ReproduceWaitsOutEveryAttempt_ContainShortCircuitsAndAcceptsAsPending()
    {
        using var http = new HttpClient { BaseAddress = system.Ordering.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        await OrderTraffic.WarmUpAsync(http, Ct);
        drill.Record(LoadReport.Header);

        var baseline = await PhaseAsync(http, "baseline", TimeSpan.FromSeconds(10));

        await drill.SetAsync("reproduce", Fault, Ct);
        var reproduce = await PhaseAsync(http, "reproduce", TimeSpan.FromSeconds(20));
        await drill.SetAsync("off", Ct);
        await WaitUntilSettledAsync(); // the naive phase's backlog (its jobs waited out the same timeouts) is not contain's load

        await drill.SetAsync("contain", Fault, Ct);
        var contain = await PhaseAsync(http, "contain", TimeSpan.FromSeconds(20));

        await drill.SetAsync("off", Ct);
        var closed = await Eventually.WaitAsync(async () => (await drill.StatsAsync("ordering", Ct))
                .All(s => s.GetProperty("ordering").GetProperty("dependencies").GetProperty("payment").GetProperty("breakerState").GetString() == "Closed"),
            all => all, TimeSpan.FromSeconds(20), "Payment's breaker closed on every Ordering replica after recovery");
        var recovery = await PhaseAsync(http, "recovery", TimeSpan.FromSeconds(10));
        var settled = await WaitUntilSettledAsync();
        drill.Record($"after recovery: breaker closed on every replica; {settled}");

        // reproduce: every call pays timeout × attempts — POST p99 ≥ 5 s — and Payment receives ~all attempts: nothing is
        // short-circuited, everything Ordering sends arrives.
        Assert.True(reproduce.Load.P99Ms >= 5000, $"reproduce POST p99 {reproduce.Load.P99Ms:0} ms, expected ≥ 5 s");
        Assert.Equal(0, reproduce.ShortCircuited);
        Assert.True(reproduce.PaymentReceived >= 0.95 * reproduce.AttemptsSent,
            $"reproduce: Payment received {reproduce.PaymentReceived} of {reproduce.AttemptsSent} attempts sent");
        Assert.True(reproduce.PaymentAttemptsPerCall >= 2, $"reproduce: {reproduce.PaymentAttemptsPerCall:0.00} authorize attempts per call");
        // contain: the breaker opened; ≥ 95 % of Payment calls short-circuited (never reached Payment); no 5xx (the fallback
        // answers 202); POST p99 within 300 ms; Inventory's breaker never opened.
        Assert.True(contain.BreakerOpened >= 1, "contain: Payment's breaker never opened");
        Assert.True(contain.ShortCircuitedShare >= 0.95, $"contain: {contain.ShortCircuitedShare:P1} of Payment calls short-circuited, expected ≥ 95 %");
        Assert.Equal(0, contain.Traffic.ServerErrors + contain.Traffic.Count(0));
        Assert.True(contain.Traffic.Count(202) > 0, "contain: no order was accepted as PaymentPending");
        Assert.True(contain.Load.P99Ms <= 300, $"contain POST p99 {contain.Load.P99Ms:0} ms, expected ≤ 300 ms");
        Assert.True(contain.InventoryOpened == 0 && reproduce.InventoryOpened == 0, "Inventory's breaker opened during a Payment outage");
        // recovery: closed on every replica within 20 s of the fault's end (waited above) and no flapping: it did not
        // open again while the pending orders' authorizations and new orders reached Payment together.
        Assert.True(closed);
        Assert.Equal(0, recovery.BreakerOpened);
        Assert.Equal(0, recovery.Traffic.ServerErrors + recovery.Traffic.Count(0));
        Assert.True(baseline.Traffic.Count(201) >= 0.95 * baseline.Load.Sent, $"baseline: {baseline.Traffic}");
    }

    private Task<InvariantReport> WaitUntilSettledAsync() => Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct),
        r => r.AllZero, TimeSpan.FromMinutes(3), "every order (PaymentPending ones included) settled, invariants zero");

    private async Task<PhaseResult> PhaseAsync(HttpClient http, string name, TimeSpan duration)
    {
        await drill.ResetStatsAsync(Ct);
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus);
        var load = await OpenLoopLoad.RunAsync(name, new LoadOptions([LoadStage.Constant(Rps, duration)], TimeSpan.FromSeconds(1),
            RequestTimeout: TimeSpan.FromSeconds(60)), traffic.PlaceAsync, Ct);
        var ordering = await drill.StatsAsync("ordering", Ct);
        long Sum(string path) => ordering.Sum(s => Drill.Read(s, path));
        var payment = (await drill.StatsAsync("payment", Ct)).Single();
        var result = new PhaseResult(load, traffic,
            Calls: Sum("ordering.dependencies.payment.requests"),
            ShortCircuited: Sum("ordering.dependencies.payment.shortCircuited"),
            BreakerOpened: Sum("ordering.dependencies.payment.breakerOpened"),
            InventoryOpened: Sum("ordering.dependencies.inventory.breakerOpened"),
            AttemptsSent: Sum("ordering.dependencies.payment.attempts"),
            PaymentReceived: Drill.Read(payment, "payment.requests.first") + Drill.Read(payment, "payment.requests.retry"),
            AuthorizeFirst: Drill.Read(payment, "payment.requests.byOperation.authorize.first"),
            AuthorizeRetry: Drill.Read(payment, "payment.requests.byOperation.authorize.retry"));
        drill.Record(load);
        drill.Record($"  {name}: {traffic}; Payment calls {result.Calls}, short-circuited {result.ShortCircuited} ({result.ShortCircuitedShare:P1}), " +
            $"breaker opened {result.BreakerOpened}×; Payment received {result.AuthorizeFirst} + {result.AuthorizeRetry} retried authorize attempts " +
            $"({result.PaymentAttemptsPerCall:0.00} per call that reached it); Ordering sent {result.AttemptsSent} attempts, Payment received {result.PaymentReceived}; Inventory breaker opened {result.InventoryOpened}×");
        return result;
    }

    private sealed record PhaseResult(LoadReport Load, OrderTraffic Traffic, long Calls, long ShortCircuited, long BreakerOpened,
        long InventoryOpened, long AttemptsSent, long PaymentReceived, long AuthorizeFirst, long AuthorizeRetry)
    {
        public double ShortCircuitedShare => Calls == 0 ? 0 : (double)ShortCircuited / Calls;

        /// <summary>Authorize attempts Payment received per logical authorize call that reached it (1 = no retries).</summary>
        public double PaymentAttemptsPerCall => AuthorizeFirst == 0 ? 0 : (double)(AuthorizeFirst + AuthorizeRetry) / AuthorizeFirst;
    }
}
