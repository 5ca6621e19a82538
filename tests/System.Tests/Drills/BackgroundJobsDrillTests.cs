// background-jobs through the toggle, on the whole system: Ordering's StockReserved consumer sends an order
// confirmation (the side effect) and crashes after it for 10 % of messages; Inventory emits malformed StockReserved
// messages (poison) for a share of orders. reproduce: non-idempotent confirmation + immediate retries ⇒ duplicate
// confirmations, poison retried many times · contain: confirmation in the inbox transaction, bounded retries,
// poison straight to the _error queue (depth visible, replayable), reconciliation clean. Scaled from 1,000 orders to
// 300 per phase for 2 cores; poisonPercent 2 instead of 1 so 300 orders carry poison for sure.
// Numbers: artifacts/drills/background-jobs.txt.
using System.Net.Http.Json;
using System.Text.Json;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class BackgroundJobsDrillTests(SystemFixture system, ITestOutputHelper output)
{
    private static readonly string[] Skus = ["SKU-0046", "SKU-0047", "SKU-0048", "SKU-0049", "SKU-0050"];
    private const string ErrorQueue = "ordering-stock-reserved_error";
    private const int Orders = 300;
    private const double Rps = 15;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Drill_CrashAfterEffectDuplicatesAndPoisonLoops_InboxAndErrorQueueHold()
    {
        var drill = new Drill(system, "background-jobs", output);
        var all = new List<Guid>();
        try
        {
            drill.Record($"# 2 Ordering replicas, {Orders} orders per phase at {Rps}/s, crashAfterEffectPercent 10, poisonPercent 2");
            drill.Record(LoadReport.Header);
            foreach (var sku in Skus) await SetStockAsync(sku, 100_000);

            // baseline
            var baseline = await PlaceAsync(drill, "off", 50);
            all.AddRange(baseline);
            await system.Ordering.WaitUntilSettledAsync(baseline, TimeSpan.FromSeconds(90), Ct);
            drill.Record($"off: duplicate confirmations {await DuplicateConfirmationsAsync(baseline)}");
            Assert.Equal(0L, await DuplicateConfirmationsAsync(baseline));

            // reproduce
            await drill.SetAsync("reproduce", new { crashAfterEffectPercent = 10, poisonPercent = 2 }, Ct);
            await drill.ResetStatsAsync(Ct);
            var errorsBefore = await ErrorDepthAsync(drill);
            var naive = await PlaceAsync(drill, "reproduce", Orders);
            all.AddRange(naive);
            var naiveSettled = await system.Ordering.WaitUntilSettledAsync(naive, TimeSpan.FromSeconds(120), Ct);
            var duplicates = await DuplicateConfirmationsAsync(naive);
            var (poisonA, attemptsA) = await PoisonAsync(drill, errorsBefore);
            drill.Record($"reproduce: {naiveSettled.Values.Count(s => s == "Confirmed")}/{naive.Count} confirmed, duplicate confirmations {duplicates} " +
                         $"(criterion ≥ {Orders / 20}), crashes {await drill.SumAsync("ordering", "backgroundJobs.crashes", Ct)}, " +
                         $"poison messages {poisonA}, attempts per poison message {attemptsA:0.0} (criterion ≥ 10)");
            Assert.True(duplicates >= Orders / 20, $"a non-idempotent side effect re-run after crashes must duplicate: {duplicates}");
            Assert.True(poisonA > 0, "poison messages must have been emitted");
            Assert.True(attemptsA >= 10, $"naive retries must hammer poison: {attemptsA:0.0} attempts each");
            await RepairAsync(naive); // the duplicates stay otherwise, and the contain half's reconciliation would count them

            // contain
            await drill.SetAsync("contain", new { crashAfterEffectPercent = 10, poisonPercent = 2 }, Ct);
            await drill.ResetStatsAsync(Ct);
            errorsBefore = await ErrorDepthAsync(drill);
            var safe = await PlaceAsync(drill, "contain", Orders);
            all.AddRange(safe);
            var safeSettled = await system.Ordering.WaitUntilSettledAsync(safe, TimeSpan.FromSeconds(120), Ct);
            var containDuplicates = await DuplicateConfirmationsAsync(safe);
            var (poisonC, attemptsC) = await PoisonAsync(drill, errorsBefore);
            var confirmed = safeSettled.Values.Count(s => s == "Confirmed");
            var absorbed = await drill.SumAsync("ordering", "consumers.stockReserved.duplicates", Ct);
            drill.Record($"contain: {confirmed}/{safe.Count} confirmed, duplicate confirmations {containDuplicates}, " +
                         $"crashes {await drill.SumAsync("ordering", "backgroundJobs.crashes", Ct)} (redeliveries absorbed by the inbox {absorbed}), " +
                         $"poison messages in {ErrorQueue} {poisonC}, attempts per poison message {attemptsC:0.0} (criterion ≤ 6)");
            Assert.Equal(0L, containDuplicates);
            Assert.Equal(safe.Count, confirmed);
            Assert.True(poisonC > 0, "poison messages must have reached the error queue");
            Assert.True(attemptsC <= 6, $"poison must reach the error queue within 6 attempts: {attemptsC:0.0}");

            // reconciliation: every confirmed order has exactly one capture and one confirmation
            // The reconciliation triple (the rest of /admin/invariants is system-wide: other drills' residue shows there too).
            static long Reconciliation(InvariantReport r) => r.Violations.GetValueOrDefault("ordering.confirmationsNotExactlyOne")
                + r.Violations.GetValueOrDefault("confirmedWithoutCapture") + r.Violations.GetValueOrDefault("payment.capturesPerOrderAboveOne");
            var report = await Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct), r => Reconciliation(r) == 0, TimeSpan.FromSeconds(30), "reconciliation (contain)");
            drill.Record($"contain reconciliation: confirmationsNotExactlyOne {report.Violations.GetValueOrDefault("ordering.confirmationsNotExactlyOne")}, " +
                         $"confirmedWithoutCapture {report.Violations.GetValueOrDefault("confirmedWithoutCapture")}, " +
                         $"payment.capturesPerOrderAboveOne {report.Violations.GetValueOrDefault("payment.capturesPerOrderAboveOne")} (total {report.Total})");

            // the operator's tools: error-queue depth and replay (the poison fails again and returns: replay is for after a fix)
            var depth = await ErrorDepthAsync(drill);
            using var replay = await system.Ordering.PostAsync("/admin/error-queues/ordering-stock-reserved/replay", null, Ct);
            replay.EnsureSuccessStatusCode();
            using var replayed = JsonDocument.Parse(await replay.Content.ReadAsStringAsync(Ct));
            var moved = replayed.RootElement.GetProperty("replayed").GetInt32();
            var back = await Eventually.WaitAsync(() => ErrorDepthAsync(drill), d => d == depth, TimeSpan.FromSeconds(30), "replayed poison back in _error");
            drill.Record($"replay: {ErrorQueue} depth {depth}, replayed {moved}, back in the error queue after failing again {back}");
            Assert.Equal(depth, moved);
        }
        finally
        {
            await drill.ResetModesAsync(CancellationToken.None);
            await RepairAsync(all);
        }
        await drill.SetAsync("off", Ct);
    }

    // The repair reproduce needs: one confirmation per order (an e-mail cannot be unsent; the record of it can).
    private async Task RepairAsync(List<Guid> ids)
    {
        await using var repair = system.Orders.CreateCommand("""
            DELETE FROM order_confirmations c USING order_confirmations k
            WHERE c.order_id = k.order_id AND c.id > k.id AND c.order_id = ANY($1)
            """);
        repair.Parameters.Add(new Npgsql.NpgsqlParameter { Value = ids.ToArray() });
        await repair.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private async Task<List<Guid>> PlaceAsync(Drill drill, string phase, int count)
    {
        var ids = new List<Guid>();
        var report = await OpenLoopLoad.RunAsync(phase, new LoadOptions([LoadStage.Constant(Rps, TimeSpan.FromSeconds(count / Rps))], TimeSpan.FromSeconds(1)),
            async (i, ct) =>
            {
                var placed = await system.Ordering.PlaceOrderAsync([(Skus[i % Skus.Length], 1)], ct);
                lock (ids) ids.Add(placed.Id);
                return Outcome.Success;
            }, Ct);
        drill.Record(report);
        return ids;
    }

    /// <summary>Extra confirmations beyond one per order (the duplicate side effects).</summary>
    private async Task<long> DuplicateConfirmationsAsync(List<Guid> ids)
    {
        await using var command = system.Orders.CreateCommand("""
            SELECT coalesce(sum(n - 1), 0)::bigint FROM (SELECT count(*) AS n FROM order_confirmations WHERE order_id = ANY($1) GROUP BY order_id) c
            """);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = ids.ToArray() });
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }

    /// <summary>Poison messages that reached the error queue in this phase, and consumer attempts per poison message.</summary>
    private static async Task<(long Poison, double AttemptsEach)> PoisonAsync(Drill drill, long errorsBefore)
    {
        // The last poison may still be retrying: wait until the attempts stop growing.
        long attempts = -1, now = await drill.SumAsync("ordering", "backgroundJobs.poisonAttempts", Ct);
        while (now != attempts)
        {
            attempts = now;
            await Task.Delay(TimeSpan.FromSeconds(3), Ct); // quiet period: no attempt for 3 s means the retries are over
            now = await drill.SumAsync("ordering", "backgroundJobs.poisonAttempts", Ct);
        }
        var poison = await ErrorDepthAsync(drill) - errorsBefore;
        return (poison, poison == 0 ? 0 : (double)attempts / poison);
    }

    private static async Task<long> ErrorDepthAsync(Drill drill) =>
        Drill.Read((await drill.StatsAsync("ordering", Ct))[0], $"errorQueues.{ErrorQueue}");

    // The catalog admin call writes through Redis too: a Redis blip on a loaded box answers 500 (seen once); retry it.
    private async Task SetStockAsync(string sku, int available)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await system.SetStockAsync(sku, available, Ct);
                return;
            }
            catch (HttpRequestException) when (attempt < 5)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), Ct); // a retry after a failed call, not a wait for a condition
            }
        }
    }
}
