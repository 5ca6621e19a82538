// Drill: timeouts-cascade (docs/failure-modes/timeouts-cascade.md). Payment's service time becomes 2 s (capacity
// 10 slots ⇒ 5 charges/s) under 20 order writes/s plus 20 reads/s of GET /api/orders/{id} — a route that never calls
// Payment. reproduce: timeouts only — no admission limit, the transaction (and its pooled connection) held across the
// Payment call, cancellation not propagated, Payment finishing abandoned work: in-flight writes grow without bound
// and the READS fail or crawl. contain: the write limiter (permits + a small queue, 503 + Retry-After at once), the
// payment call outside any transaction, deadline + RequestAborted propagated, reads on their own partition: in-flight
// writes stay within the permits, reads keep their baseline latency with no errors, rejections are answered fast.
// Criteria: failure-modes.md § 1 at 20 + 20 requests/s (scaled from 50 + 50 for two cores). Beside the reads, two
// probes at their rate — GET /alive of Ordering (same process, no database) and of Inventory (another process) — tell a
// stall of Ordering's database path from one of the whole host; each report names its slowest requests' times.
using System.Collections.Concurrent;
using System.Net;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class TimeoutsCascadeDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    private const double WriteRps = 20, ReadRps = 20;
    private const double ReadP99FloorMs = 50;
    private static readonly object Fault = new { paymentServiceTimeMs = 2000 };
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly Drill drill = new(system, "timeouts-cascade", output);

    public async ValueTask InitializeAsync() => await OrderTraffic.RaiseStockAsync(system, Ct);

    public async ValueTask DisposeAsync()
    {
        await drill.ResetModesAsync(CancellationToken.None);
        await drill.DrainPaymentAsync(CancellationToken.None);
    }

    [Fact]
    public async Task SlowPayment_ReproduceStarvesReads_ContainBoundsInFlightAndKeepsReadsFast()
    {
        using var http = new HttpClient { BaseAddress = system.Ordering.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var readable = new ConcurrentQueue<Guid>();
        for (var i = 0; i < 20; i++) readable.Enqueue((await system.Ordering.PlaceOrderAsync([(OrderTraffic.DrillSkus[i % 10], 1)], Ct)).Id);
        var ids = readable.ToArray();
        await OrderTraffic.WarmUpAsync(http, Ct);
        drill.Record(LoadReport.Header);

        // The first seconds of load on a just-started system are slow (JIT, pools, caches): measured, baseline reads
        // p99 6.8 s once. A baseline that slow would make "≤ 1.5 × baseline" a criterion contain cannot fail, so the
        // same load runs for 10 s first, recorded but not judged.
        await PhaseAsync(http, ids, "warm-up", TimeSpan.FromSeconds(10));
        var baseline = await PhaseAsync(http, ids, "baseline", TimeSpan.FromSeconds(10), slowest: true);

        await drill.SetAsync("reproduce", Fault, Ct);
        var reproduce = await PhaseAsync(http, ids, "reproduce", TimeSpan.FromSeconds(20));
        await drill.SetAsync("off", Ct);
        await drill.DrainPaymentAsync(Ct);
        var abandoned = await AbandonedWorkDrainedAsync();
        drill.Record($"  after reproduce: the abandoned writes (cancellation not propagated, naive 10 s × 4 attempts, a held transaction each) finished {abandoned.TotalSeconds:0.0} s after Payment had drained");

        await drill.SetAsync("contain", Fault, Ct);
        var contain = await PhaseAsync(http, ids, "contain", TimeSpan.FromSeconds(20), slowest: true);
        await drill.SetAsync("off", Ct);
        // "Back to baseline ≤ 10 s after the fault ends": the first 10 s are the transition (the PaymentPending orders'
        // authorizations and captures reach Payment together with new orders), recorded; the next 10 s are judged.
        await PhaseAsync(http, ids, "recovery 0-10 s", TimeSpan.FromSeconds(10));
        var recovery = await PhaseAsync(http, ids, "recovery 10-20 s", TimeSpan.FromSeconds(10));

        // contain's PaymentPending orders are authorized at Jobs:KindRatePerSecond, beside live traffic: how long that took.
        var draining = TimeProvider.System.GetTimestamp();
        await drill.DrainPaymentAsync(Ct);
        var settled = await drill.SettledAsync(Ct);
        drill.Record($"after the drill: every order settled {TimeProvider.System.GetElapsedTime(draining).TotalSeconds:0} s after recovery; {settled}");

        // What the HOST added since the baseline is not the cascade: Inventory's /alive, another process on the same cores
        // probed at the reads' rate, says how much slower any answer got (its p99 in contain minus its p99 in the
        // baseline). Ordering's own /alive is deliberately not that allowance: a stall of Ordering's threads is the
        // cascade's second path (the pool, then the threads), and must fail the read check.
        var hostAdded = Math.Max(0, contain.InventoryAlive.P99Ms - baseline.InventoryAlive.P99Ms);
        var readsAllowed = 1.5 * Math.Max(baseline.Reads.P99Ms, ReadP99FloorMs) + hostAdded;
        drill.Record($"contain reads p99 {contain.Reads.P99Ms:0.0} ms, allowed {readsAllowed:0.0} ms = 1.5 × max(baseline {baseline.Reads.P99Ms:0.0}, {ReadP99FloorMs}) "
            + $"+ host added {hostAdded:0.0} (Inventory /alive p99 {baseline.InventoryAlive.P99Ms:0.0} → {contain.InventoryAlive.P99Ms:0.0}); "
            + $"Ordering /alive p99 {baseline.OrderingAlive.P99Ms:0.0} → {contain.OrderingAlive.P99Ms:0.0}");

        // reproduce: the route that never calls Payment fails too — read p99 > 2 s or ≥ 5 % read errors — while
        // in-flight writes grow past anything a limiter would have allowed.
        var readErrors = (double)(reproduce.Reads.Errors + reproduce.Reads.Rejected) / Math.Max(1, reproduce.Reads.Sent);
        Assert.True(reproduce.Reads.P99Ms > 2000 || readErrors >= 0.05,
            $"reproduce: reads p99 {reproduce.Reads.P99Ms:0} ms with {readErrors:P1} errors — the cascade did not reach reads");
        Assert.True(reproduce.InFlightMax > OrderingAdmission.WritesBound, $"reproduce: in-flight writes peaked at {reproduce.InFlightMax} per replica");
        // contain: in-flight within permits (+ queue), reads ≤ 1.5 × baseline p99 with 0 errors, rejections answered in ≤ 50 ms
        // (both beyond what the host added).
        Assert.True(contain.InFlightMax <= OrderingAdmission.WritesBound, $"contain: in-flight writes peaked at {contain.InFlightMax} per replica");
        Assert.Equal(0, contain.Reads.Errors + contain.Reads.Rejected);
        // The baseline is floored at 50 ms: below it a p99 of 400 reads is the host's scheduling jitter on 2 cores shared by
        // eight processes (measured: baseline 34.8 ms, contain 54.5 ms with p50 7.6 → 4.7 ms), not the cascade (15 s);
        // readsAllowed adds what the host added (above).
        Assert.True(contain.Reads.P99Ms <= readsAllowed,
            $"contain: reads p99 {contain.Reads.P99Ms:0.0} ms, allowed {readsAllowed:0.0} ms (baseline {baseline.Reads.P99Ms:0.0} ms, floor {ReadP99FloorMs} ms, "
            + $"host added {hostAdded:0.0} ms); slowest reads{contain.Reads.SlowestLine}");
        // Rejections answered in ≤ 50 ms, plus what the host added (as for the reads): a run of 2026-12-07 06:21 UTC read
        // 57 ms while all three probes stalled together for 0.4 s (Inventory's /alive p99 24.9 → 115.1 ms).
        Assert.True(contain.Writes.Rejected == 0 || contain.Writes.RejectedP99Ms <= 50 + hostAdded,
            $"contain: rejections p99 {contain.Writes.RejectedP99Ms:0} ms, allowed {50 + hostAdded:0} ms (host added {hostAdded:0.0} ms)");
        // back to baseline within 10 s of the fault's end: writes p99 within 3 × baseline (or 1 s, the SLO) 10-20 s after it.
        Assert.True(recovery.Writes.P99Ms <= Math.Max(3 * baseline.Writes.P99Ms, 1000), $"recovery: writes p99 {recovery.Writes.P99Ms:0} ms");
    }

    // reproduce leaves writes running for callers that are gone — that is its failure — and they hold pooled
    // connections until Payment answers them. contain is measured from a quiet start: every replica's in-flight writes
    // back to zero.
    private async Task<TimeSpan> AbandonedWorkDrainedAsync()
    {
        var started = TimeProvider.System.GetTimestamp();
        await Eventually.WaitAsync(() => drill.StatsAsync("ordering", Ct),
            all => all.All(s => Drill.Read(s, "ordering.admission.writesInFlight") == 0), TimeSpan.FromSeconds(120),
            "every Ordering replica finished the writes reproduce abandoned");
        return TimeProvider.System.GetElapsedTime(started);
    }

    private async Task<PhaseResult> PhaseAsync(HttpClient http, Guid[] ids, string name, TimeSpan duration, bool slowest = false)
    {
        await drill.ResetStatsAsync(Ct);
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus);
        var options = (double rps) => new LoadOptions([LoadStage.Constant(rps, duration)], TimeSpan.FromSeconds(1), RequestTimeout: TimeSpan.FromSeconds(30));
        var writes = OpenLoopLoad.RunAsync($"{name} writes", options(WriteRps), traffic.PlaceAsync, Ct);
        var reads = OpenLoopLoad.RunAsync($"{name} reads", options(ReadRps), (i, ct) => GetAsync(http, $"/api/orders/{ids[i % ids.Length]}", ct), Ct);
        // Beside the reads, at their rate: the same GET to Ordering's /alive (same client, proxy and process, no database)
        // and to Inventory's (another process on the same cores). A read stall that shows in neither is Ordering's
        // database path; one that shows in both is the host's.
        var orderingAlive = OpenLoopLoad.RunAsync("  ordering /alive", options(ReadRps), (_, ct) => GetAsync(http, "/alive", ct), Ct);
        var inventoryAlive = OpenLoopLoad.RunAsync("  inventory /alive", options(ReadRps), (_, ct) => GetAsync(system.Inventory, "/alive", ct), Ct);
        await Task.WhenAll(writes, reads, orderingAlive, inventoryAlive);
        var inFlightMax = (await drill.StatsAsync("ordering", Ct)).Max(s => Drill.Read(s, "ordering.admission.writesInFlightMax"));
        var result = new PhaseResult(await writes, await reads, await orderingAlive, await inventoryAlive, inFlightMax);
        drill.Record(result.Writes);
        drill.Record(result.Reads);
        drill.Record(result.OrderingAlive);
        drill.Record(result.InventoryAlive);
        if (slowest)
        {
            drill.Record($"  {name} reads{result.Reads.SlowestLine}");
            drill.Record($"  {name} ordering /alive{result.OrderingAlive.SlowestLine}");
            drill.Record($"  {name} inventory /alive{result.InventoryAlive.SlowestLine}");
        }
        drill.Record($"  {name}: writes {traffic}; in-flight writes peaked at {inFlightMax} on one replica");
        return result;
    }

    private static async Task<Outcome> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        return response.StatusCode switch
        {
            HttpStatusCode.OK => Outcome.Success,
            HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests => Outcome.Rejected,
            _ => Outcome.Error,
        };
    }

    private sealed record PhaseResult(LoadReport Writes, LoadReport Reads, LoadReport OrderingAlive, LoadReport InventoryAlive, long InFlightMax);
}
