// Drill scaling-plateau (failure-modes.md §5). "Replicas" are simulated as the spec allows on 2 cores: each simulated
// replica is WorkersPerReplica closed-loop workers (its own request concurrency), spread over the real Ordering
// replicas, all against the same shared bottleneck; Payment is slowed to paymentServiceTimeMs.
// reproduce: every order locks the one order-number counter row and holds it across the Payment call
// (Orders/HeldConnectionPlacement.cs) ⇒ goodput(3) ÷ goodput(1) ≤ 1.15 while p95 rises ≥ 2×.
// contain: order numbers from a sequence, no lock across the remote call (Orders/OrderPlacement.cs) ⇒ scaling
// efficiency goodput(3) ÷ (3 × goodput(1)) ≥ 0.8 below the declared external capacity (Payment quota), lock waits 0.
// The fleet connection-budget check (the third bottleneck) is a unit test: tests/Ordering.Tests/ConnectionBudgetTests.cs.
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using HdrHistogram;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class ScalingPlateauDrillTests(SystemFixture system, ITestOutputHelper output)
{
    private const string Mode = "scaling-plateau";
    // The declared external capacity: Payment's global quota, well above what 3 workers can ask (authorize + capture).
    private static readonly object Parameters = new { paymentQuotaPerSecond = 200, poolSizePerReplica = 20, paymentServiceTimeMs = 250 };
    private const int WorkersPerReplica = 2;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PhaseLength = TimeSpan.FromSeconds(12);

    [Fact]
    public async Task ScalingPlateau_HotRowLockAcrossPayment_CapsGoodput_SequenceScales()
    {
        var ct = TestContext.Current.CancellationToken;
        var drill = new Drill(system, Mode, output);
        using var ordering = new ReplicaClients(system, "ordering", TimeSpan.FromSeconds(10));
        try
        {
            drill.Record($"closed loop, {WorkersPerReplica} workers per simulated replica, {PhaseLength.TotalSeconds:0} s per point after {WarmUp.TotalSeconds:0} s warm-up, SLO 1 s; parameters {JsonSerializer.Serialize(Parameters)}");
            drill.Record($"{"state",-10} {"replicas",8} {"orders",7} {"orders/s",9} {"goodput/s",10} {"p50 ms",8} {"p95 ms",8} {"errors",7} {"lock wait p95",14} {"held",6}");
            await drill.SetAsync("reproduce", Parameters, ct);
            var naive1 = await PointAsync(drill, ordering, "reproduce", 1, ct);
            var naive3 = await PointAsync(drill, ordering, "reproduce", 3, ct);
            await drill.SetAsync("contain", Parameters, ct);
            var contain1 = await PointAsync(drill, ordering, "contain", 1, ct);
            var contain3 = await PointAsync(drill, ordering, "contain", 3, ct);
            await drill.SetAsync("off", ct);

            var naiveRatio = naive3.Goodput / Math.Max(0.01, naive1.Goodput);
            var naiveThroughputRatio = naive3.Throughput / naive1.Throughput;
            var efficiency = contain3.Goodput / (3 * contain1.Goodput);
            drill.Record($"reproduce: goodput(3) ÷ goodput(1) = {naiveRatio:0.00} (orders/s {naiveThroughputRatio:0.00}), p95(3) ÷ p95(1) = {naive3.P95Ms / naive1.P95Ms:0.0}; " +
                         $"contain: scaling efficiency goodput(3) ÷ (3 × goodput(1)) = {efficiency:0.00}");
            Assert.True(naiveRatio <= 1.15, $"reproduce: 3 replicas gave {naiveRatio:0.00}× the goodput of 1 — no plateau");
            // Beyond the spec's goodput criterion: completed orders plateau too (3 replicas would give 3×; one replica's
            // 2 workers already nearly saturate the row, so allow the rest of its slack).
            Assert.True(naiveThroughputRatio <= 1.3, $"reproduce: 3 replicas completed {naiveThroughputRatio:0.00}× the orders of 1 — no plateau");
            Assert.True(naive3.P95Ms >= 2 * naive1.P95Ms, $"reproduce: p95 {naive1.P95Ms:0} → {naive3.P95Ms:0} ms did not double");
            Assert.True(naive3.LockWaitP95Ms > 0, "reproduce: no lock wait measured");
            Assert.True(efficiency >= 0.8, $"contain: scaling efficiency {efficiency:0.00} < 0.8");
            Assert.Equal(0, contain3.LockWaitP95Ms);
            Assert.Equal(0, contain3.Held);
            Assert.Equal(0, contain1.Errors + contain3.Errors);
        }
        finally
        {
            await drill.ResetModesAsync(CancellationToken.None);
        }
    }

    private sealed record Point(long Orders, double Throughput, double Goodput, double P50Ms, double P95Ms, long Errors, long LockWaitP95Ms, long Held);

    private static async Task<Point> PointAsync(Drill drill, ReplicaClients ordering, string state, int replicas, CancellationToken ct)
    {
        await RunWorkersAsync(ordering, replicas * WorkersPerReplica, WarmUp, null, ct); // pools, JIT, lock queue: not measured
        await drill.ResetStatsAsync(ct);
        var (ok, withinSlo, errors, latency, seconds) = await RunWorkersAsync(ordering, replicas * WorkersPerReplica, PhaseLength, new LongHistogram(TimeSpan.FromMinutes(1).Ticks / 10, 3), ct);
        var stats = await drill.StatsAsync("ordering", ct);
        var point = new Point(ok, ok / seconds, withinSlo / seconds, latency!.GetValueAtPercentile(50) / 1000.0, latency.GetValueAtPercentile(95) / 1000.0, errors,
            stats.Max(s => Drill.Read(s, "placement.lockWaitMs.p95")), stats.Sum(s => Drill.Read(s, "placement.held")));
        drill.Record($"{state,-10} {replicas,8} {point.Orders,7} {point.Throughput,9:0.0} {point.Goodput,10:0.0} {point.P50Ms,8:0} {point.P95Ms,8:0} {point.Errors,7} {point.LockWaitP95Ms,11} ms {point.Held,6}");
        return point;
    }

    private static async Task<(long Ok, long WithinSlo, long Errors, LongHistogram? Latency, double Seconds)> RunWorkersAsync(
        ReplicaClients ordering, int workers, TimeSpan length, LongHistogram? latency, CancellationToken ct)
    {
        long ok = 0, withinSlo = 0, errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            var client = ordering.All[worker % ordering.All.Count];
            for (var i = 0; clock.Elapsed < length; i++)
            {
                var started = clock.Elapsed;
                HttpStatusCode status;
                try
                {
                    status = (await ReplicaClients.PlaceAsync(client, $"SKU-{1 + (worker * 7 + i) % 60:0000}", ct)).Status;
                }
                catch (HttpRequestException)
                {
                    status = HttpStatusCode.BadGateway;
                }
                var took = clock.Elapsed - started;
                if (latency is not null) lock (latency) latency.RecordValue(Math.Max(1, (long)took.TotalMicroseconds));
                if ((int)status is >= 200 and < 300)
                {
                    Interlocked.Increment(ref ok);
                    if (took <= TimeSpan.FromSeconds(1)) Interlocked.Increment(ref withinSlo);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }, ct)));
        return (ok, withinSlo, errors, latency, clock.Elapsed.TotalSeconds);
    }
}
