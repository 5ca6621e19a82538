// Drill: circuit-breaker (docs/failure-modes/circuit-breaker.md). Payment hard down, then browning out (3 s latency,
// 30 % errors), under 15 orders/s (the spec's 50 is more than this 2-core machine's whole capacity for the test system). reproduce: the naive pipeline (no breaker, 10 s attempt timeout, 3 immediate
// retries, no fallback) — every call waits out every attempt and Payment receives all of them. contain: Payment's own
// breaker (attempt timeout inside it) opens within seconds, calls short-circuit, orders are accepted as
// PaymentPending (202) and settle after recovery; Inventory's breaker never opens. Criteria: failure-modes.md § 8.
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class CircuitBreakerDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    // The spec's 50 orders/s is the whole capacity of the test system on 2 cores (baseline p99 0.7–8 s there, measured),
    // and that capacity varies with the host: the overload drill measured C = 60/s on 2026-12-06 morning and 30/s that
    // evening, when 25/s here refused 8–19 % of the baseline at the door. At 15/s — half the lowest C seen — the
    // baseline is healthy, so what the phases show is the breaker, not the machine.
    private const double Rps = 15;
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5); // Resilience:Payment:BreakDuration
    private static readonly object Fault = new { downSeconds = 10, brownoutLatencyMs = 3000, brownoutErrorRate = 0.3 };
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly Drill drill = new(system, "circuit-breaker", output);

    public async ValueTask InitializeAsync() => await OrderTraffic.RaiseStockAsync(system, Ct);

    public async ValueTask DisposeAsync() => await drill.ResetModesAsync(CancellationToken.None);

    [Fact]
    public async Task PaymentDownThenBrownout_ReproduceWaitsOutEveryAttempt_ContainShortCircuitsAndAcceptsAsPending()
    {
        // The breaker is per replica and so is the criterion: the orders alternate over the replicas. Through one client
        // the fast 202s of contain ride one pooled connection to one replica, and the other's breaker, fed only by its
        // authorize jobs, never reached MinimumThroughput (two CI runs, 2026-12-05).
        using var ordering = new ReplicaClients(system, "ordering", TimeSpan.FromSeconds(60));
        Assert.Equal(SystemFixture.OrderingReplicas, ordering.All.Count);
        Func<HttpClient> http = ordering.Next;
        await OrderTraffic.WarmUpAsync(http, Ct);
        // At rest before the baseline: the warm-up's orders (and a previous test's) settle first — each order is a
        // reservation, a capture and their events after its POST. A CI run that started measuring at once saw its
        // baseline at 25/s refuse 8 % at the door (p99 1.9 s) while the recovery phase, at the same rate, refused none.
        await drill.SettledAsync(Ct);
        drill.Record(LoadReport.Header);

        var baseline = await PhaseAsync(http, "baseline", TimeSpan.FromSeconds(10));

        await drill.SetAsync("reproduce", Fault, Ct);
        var reproduce = await PhaseAsync(http, "reproduce", TimeSpan.FromSeconds(20));
        await drill.SetAsync("off", Ct);
        await drill.SettledAsync(Ct); // the naive phase's backlog (its jobs waited out the same timeouts) is not contain's load

        await drill.SetAsync("contain", Fault, Ct);
        var contain = await PhaseAsync(http, "contain", TimeSpan.FromSeconds(20), watchOpening: true);

        await drill.SetAsync("off", Ct);
        var closed = await Eventually.WaitAsync(async () => (await drill.StatsAsync("ordering", Ct))
                .All(s => s.GetProperty("ordering").GetProperty("dependencies").GetProperty("payment").GetProperty("breakerState").GetString() == "Closed"),
            all => all, TimeSpan.FromSeconds(20), "Payment's breaker closed on every Ordering replica after recovery");
        var recovery = await PhaseAsync(http, "recovery", TimeSpan.FromSeconds(10));
        var settling = TimeProvider.System.GetTimestamp();
        var settled = await drill.SettledAsync(Ct);
        drill.Record($"after recovery: breaker closed on every replica; every order settled {TimeProvider.System.GetElapsedTime(settling).TotalSeconds:0} s after the recovery phase; {settled}");

        // reproduce: every call pays timeout × attempts — POST p99 ≥ 5 s — and Payment receives ~all attempts: nothing is
        // short-circuited, everything Ordering sends arrives.
        Assert.True(reproduce.Load.P99Ms >= 5000, $"reproduce POST p99 {reproduce.Load.P99Ms:0} ms, expected ≥ 5 s");
        Assert.Equal(0, reproduce.ShortCircuited);
        Assert.True(reproduce.PaymentReceived >= 0.95 * reproduce.AttemptsSent,
            $"reproduce: Payment received {reproduce.PaymentReceived} of {reproduce.AttemptsSent} attempts sent");
        Assert.True(reproduce.PaymentAttemptsPerCall >= 2, $"reproduce: {reproduce.PaymentAttemptsPerCall:0.00} authorize attempts per call");
        // contain: the breaker opened on every replica within 10 s of the fault; once open, ≥ 95 % of Payment calls
        // short-circuited (never reached Payment) and what did reach it were the half-open probes — at most one per break
        // duration per replica; no 5xx (the fallback answers 202); POST p99 within 300 ms; Inventory's breaker never opened.
        Assert.True(contain.BreakerOpened >= 1 && contain.Open is not null, "contain: Payment's breaker did not open on every replica within 15 s");
        var open = contain.Open!;
        Assert.True(open.After <= TimeSpan.FromSeconds(10), $"contain: open on every replica {open.After.TotalSeconds:0.0} s after the fault, expected ≤ 10 s");
        Assert.True(open.ShortCircuitedShare >= 0.95, $"contain: {open.ShortCircuitedShare:P1} of Payment calls short-circuited while open, expected ≥ 95 %");
        var probes = SystemFixture.OrderingReplicas * (Math.Ceiling(open.For / BreakDuration) + 1);
        Assert.True(open.Reached <= probes, $"contain: {open.Reached} Payment calls got through while open, expected ≤ {probes} (one probe per break per replica)");
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


    private async Task<PhaseResult> PhaseAsync(Func<HttpClient> http, string name, TimeSpan duration, bool watchOpening = false)
    {
        await drill.ResetStatsAsync(Ct);
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus);
        var started = TimeProvider.System.GetTimestamp();
        var running = OpenLoopLoad.RunAsync(name, new LoadOptions([LoadStage.Constant(Rps, duration)], TimeSpan.FromSeconds(1),
            RequestTimeout: TimeSpan.FromSeconds(60)), traffic.PlaceAsync, Ct);
        // While the load runs: the moment the breaker has opened on every replica, and the call counters then — what
        // happens to calls from that moment on is the "while open" half of the criteria.
        (TimeSpan At, long Calls, long ShortCircuited)? opened = null;
        if (watchOpening)
        {
            try
            {
                var stats = await Eventually.WaitAsync(() => drill.StatsAsync("ordering", Ct),
                    all => all.All(s => Drill.Read(s, "ordering.dependencies.payment.breakerOpened") >= 1), TimeSpan.FromSeconds(15),
                    "Payment's breaker opened on every Ordering replica");
                opened = (TimeProvider.System.GetElapsedTime(started), stats.Sum(s => Drill.Read(s, "ordering.dependencies.payment.requests")),
                    stats.Sum(s => Drill.Read(s, "ordering.dependencies.payment.shortCircuited")));
            }
            catch (TimeoutException e)
            {
                drill.Record($"  {name}: {e.Message}");
            }
        }
        var load = await running;
        var ordering = await drill.StatsAsync("ordering", Ct);
        long Sum(string path) => ordering.Sum(s => Drill.Read(s, path));
        var whileOpen = opened is not { } o ? null : new OpenPeriod(o.At, duration - o.At,
            Sum("ordering.dependencies.payment.requests") - o.Calls, Sum("ordering.dependencies.payment.shortCircuited") - o.ShortCircuited);
        var payment = (await drill.StatsAsync("payment", Ct)).Single();
        var result = new PhaseResult(load, traffic,
            Calls: Sum("ordering.dependencies.payment.requests"),
            ShortCircuited: Sum("ordering.dependencies.payment.shortCircuited"),
            BreakerOpened: Sum("ordering.dependencies.payment.breakerOpened"),
            InventoryOpened: Sum("ordering.dependencies.inventory.breakerOpened"),
            AttemptsSent: Sum("ordering.dependencies.payment.attempts"),
            PaymentReceived: Drill.Read(payment, "payment.requests.first") + Drill.Read(payment, "payment.requests.retry"),
            AuthorizeFirst: Drill.Read(payment, "payment.requests.byOperation.authorize.first"),
            AuthorizeRetry: Drill.Read(payment, "payment.requests.byOperation.authorize.retry"), Open: whileOpen);
        drill.Record(load);
        drill.Record($"  {name}: {traffic}; Payment calls {result.Calls}, short-circuited {result.ShortCircuited} ({result.ShortCircuitedShare:P1}), " +
            $"breaker opened {result.BreakerOpened}×; Payment received {result.AuthorizeFirst} + {result.AuthorizeRetry} retried authorize attempts " +
            $"({result.PaymentAttemptsPerCall:0.00} per call that reached it); Ordering sent {result.AttemptsSent} attempts, Payment received {result.PaymentReceived}; Inventory breaker opened {result.InventoryOpened}×");
        if (whileOpen is { } w)
        {
            drill.Record($"  {name}: open on every replica {w.After.TotalSeconds:0.0} s after the fault; from then on ({w.For.TotalSeconds:0.0} s) " +
                $"{w.Calls} Payment calls, {w.ShortCircuited} short-circuited ({w.ShortCircuitedShare:P1}), {w.Reached} got through (half-open probes)");
        }
        return result;
    }

    /// <summary>From the moment the breaker was open on every replica (<paramref name="After"/> the fault) to the phase's end.</summary>
    private sealed record OpenPeriod(TimeSpan After, TimeSpan For, long Calls, long ShortCircuited)
    {
        public long Reached => Math.Max(0, Calls - ShortCircuited);

        public double ShortCircuitedShare => Calls <= 0 ? 1 : Math.Min(1, (double)ShortCircuited / Calls);
    }

    private sealed record PhaseResult(LoadReport Load, OrderTraffic Traffic, long Calls, long ShortCircuited, long BreakerOpened,
        long InventoryOpened, long AttemptsSent, long PaymentReceived, long AuthorizeFirst, long AuthorizeRetry, OpenPeriod? Open = null)
    {
        public double ShortCircuitedShare => Calls == 0 ? 0 : (double)ShortCircuited / Calls;

        /// <summary>Authorize attempts Payment received per logical authorize call that reached it (1 = no retries).</summary>
        public double PaymentAttemptsPerCall => AuthorizeFirst == 0 ? 0 : (double)(AuthorizeFirst + AuthorizeRetry) / AuthorizeFirst;
    }
}
