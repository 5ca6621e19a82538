// outbox through the toggle, on the whole system: dual writes (publish after commit; publish before commit) with 5 %
// crashes between the two writes, then the transactional outbox with 5 % relay crashes (publish confirmed, row not
// marked) AND a 30 s RabbitMQ outage (stopped and started for real; only inside the System.Tests lock). Counted per
// Idempotency-Key (the order id is derived from it): lost = order committed, Inventory never decided it; phantom =
// Inventory decided an order that was never committed; duplicate effects = stock units taken beyond the reservations.
// Scaled from 2,000 orders to ~900 for 2 cores. Numbers: artifacts/drills/outbox.txt.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class OutboxDrillTests(SystemFixture system, ITestOutputHelper output)
{
    private static readonly string[] Skus = ["SKU-0041", "SKU-0042", "SKU-0043", "SKU-0044", "SKU-0045"];
    private const int Stock = 100_000;
    private const double Rps = 10;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(30);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Drill_DualWriteLosesAndInventsEvents_OutboxHoldsThroughCrashesAndBrokerOutage()
    {
        var drill = new Drill(system, "outbox", output);
        var repaired = new List<string>();
        try
        {
            drill.Record($"# 2 Ordering replicas, {Rps} orders/s, 1 unit each over {Skus.Length} SKUs, Outbox lease 5 s");
            drill.Record(LoadReport.Header);

            // baseline
            var baseline = await PhaseAsync(drill, "off", 5);
            var (lost0, phantom0, dup0) = await CountAsync(baseline, settleSeconds: 30);
            drill.Record($"off: lost {lost0}, phantom {phantom0}, duplicate effects (units) {dup0}");
            Assert.Equal((0, 0, 0), (lost0, phantom0, dup0));

            // reproduce A: commit, then publish — a crash in between loses the event
            await drill.SetAsync("reproduce", new { crashBetweenCommitAndPublishPercent = 5, publishBeforeCommit = 0 }, Ct);
            var after = await PhaseAsync(drill, "reproduce after-commit", 20);
            var (lostA, phantomA, dupA) = await CountAsync(after, settleSeconds: 20);
            drill.Record($"reproduce publish-after-commit: lost {lostA}, phantom {phantomA}, duplicate effects {dupA}, 5xx {after.Report.Errors}");
            repaired.AddRange(after.Keys);
            Assert.True(lostA >= 1, "commit-then-publish must lose events when the process dies in between");

            // reproduce B: publish, then commit — an aborted commit leaves a phantom event
            await drill.SetAsync("reproduce", new { crashBetweenCommitAndPublishPercent = 5, publishBeforeCommit = 1 }, Ct);
            var before = await PhaseAsync(drill, "reproduce before-commit", 15);
            var (lostB, phantomB, dupB) = await CountAsync(before, settleSeconds: 20);
            drill.Record($"reproduce publish-before-commit: lost {lostB}, phantom {phantomB}, duplicate effects {dupB}, 5xx {before.Report.Errors}");
            repaired.AddRange(before.Keys);
            Assert.True(phantomB >= 1, "publish-then-commit must emit phantom events when the commit aborts");

            // contain: transactional outbox + relay crashes after publish + 30 s broker outage
            await drill.SetAsync("contain", new { crashBetweenCommitAndPublishPercent = 5 }, Ct);
            await drill.ResetStatsAsync(Ct);
            var steady = await PhaseAsync(drill, "contain, broker up", 10);
            // Counted before the next phase resets the SKUs' stock (the duplicate-effect count compares stock taken with reservations).
            var (lostS, phantomS, dupS) = await CountAsync(steady, settleSeconds: 30);
            var contain = await OutagePhaseAsync(drill);
            var (lostC, phantomC, dupC) = await CountAsync(contain.Phase, settleSeconds: 90);
            var absorbed = await drill.SumAsync("inventory", "consumers.orderPlaced.duplicates", Ct);
            var latency = await PublishLatencyAsync(steady.Keys);
            drill.Record($"contain (outbox, 5 % relay crashes, {Outage.TotalSeconds:0} s broker outage): lost {lostC}, phantom {phantomC}, " +
                         $"duplicate effects {dupC}, duplicate deliveries absorbed by the inbox {absorbed}, 5xx {contain.Phase.Report.Errors}");
            drill.Record($"contain backlog: peak {contain.PeakBacklog} pending, drained {contain.DrainSeconds:0.0} s after the broker was back (criterion ≤ 60 s)");
            drill.Record($"contain commit → publish latency (broker up, 5 % relay crashes re-published after the 5 s lease): p50 {latency.P50:0} ms, " +
                         $"p90 {latency.P90:0} ms, p99 {latency.P99:0} ms over {latency.Count} events; lost {lostS}, phantom {phantomS}, duplicate effects {dupS}");
            Assert.Equal((0L, 0L, 0L), (lostS, phantomS, dupS));
            Assert.Equal(0L, lostC);
            Assert.Equal(0L, phantomC);
            Assert.Equal(0L, dupC);
            Assert.Equal(0L, contain.Phase.Report.Errors + contain.Phase.Report.Rejected); // POST stayed 2xx through the outage
            Assert.True(contain.PeakBacklog > 0, "the outage must have built a backlog");
            Assert.True(contain.DrainSeconds <= 60, $"backlog drained {contain.DrainSeconds:0.0} s after recovery");
        }
        finally
        {
            await drill.ResetModesAsync(CancellationToken.None);
            await RepairAsync(repaired);
        }
        await drill.SetAsync("off", Ct);
        var report = await Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct), r => r.AllZero, TimeSpan.FromSeconds(60), "invariants after repair");
        drill.Record($"off after repair: invariants total {report.Total}");
    }

    private sealed record Phase(string Name, List<string> Keys, LoadReport Report, DateTimeOffset StartedAt);

    private sealed record ContainResult(Phase Phase, long PeakBacklog, double DrainSeconds, DateTimeOffset StoppedAt, DateTimeOffset DrainedAt);

    private async Task<Phase> PhaseAsync(Drill drill, string name, int seconds)
    {
        foreach (var sku in Skus) await SetStockAsync(sku, Stock);
        var started = DateTimeOffset.UtcNow;
        var keys = new List<string>();
        var notServed = new ConcurrentDictionary<string, long>();
        var report = await OpenLoopLoad.RunAsync(name, new LoadOptions([LoadStage.Constant(Rps, TimeSpan.FromSeconds(seconds))], TimeSpan.FromSeconds(1)),
            (i, ct) =>
            {
                var key = $"outbox-drill-{Guid.NewGuid():N}";
                lock (keys) keys.Add(key);
                return PlaceOnceAsync(key, Skus[i % Skus.Length], notServed, ct);
            }, Ct);
        drill.Record(report);
        if (!notServed.IsEmpty)
        {
            drill.Record($"  {name}: not 2xx: " + string.Join(", ", notServed.OrderByDescending(n => n.Value).Select(n => $"{n.Key} ×{n.Value}")));
        }
        return new(name, keys, report, started);
    }

    private async Task<ContainResult> OutagePhaseAsync(Drill drill)
    {
        var sampling = new CancellationTokenSource();
        long peak = 0;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                try { peak = Math.Max(peak, await PendingAsync()); } catch (Exception e) when (e is not OperationCanceledException) { }
                await Task.Delay(500, CancellationToken.None); // sampling period of the backlog gauge
            }
        });
        var load = PhaseAsync(drill, "contain + outage", 45);
        await Task.Delay(TimeSpan.FromSeconds(5), Ct); // the outage starts 5 s into the load
        var stoppedAt = DateTimeOffset.UtcNow;
        await Servers.StopAsync(Server.RabbitMq);
        try
        {
            await Task.Delay(Outage, Ct);
        }
        finally
        {
            await Servers.StartAsync(Server.RabbitMq);
        }
        var recovered = Stopwatch.StartNew();
        drill.Record($"broker stopped at +5 s for {Outage.TotalSeconds:0} s, started again (start took {(DateTimeOffset.UtcNow - stoppedAt - Outage).TotalSeconds:0} s)");
        var phase = await load;
        await Eventually.WaitAsync(PendingAsync, n => n == 0, TimeSpan.FromSeconds(120), "outbox backlog drained");
        var drain = recovered.Elapsed.TotalSeconds;
        var drainedAt = DateTimeOffset.UtcNow;
        await sampling.CancelAsync();
        await sampler;
        return new(phase, peak, drain, stoppedAt, drainedAt);
    }

    private Task<long> PendingAsync() => Invariants.ScalarAsync(system.Orders,
        "SELECT count(*) FROM outbox_messages WHERE status = 'pending'", CancellationToken.None);

    /// <summary>One placement; a refusal or error is counted in <paramref name="notServed"/> by status and cause.</summary>
    private async Task<Outcome> PlaceOnceAsync(string key, string sku, ConcurrentDictionary<string, long> notServed, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = JsonContent.Create(new { customerId = "outbox-drill", items = new[] { new { sku, quantity = 1 } } }),
        };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await system.Ordering.SendAsync(request, ct);
        if (response.IsSuccessStatusCode) return Outcome.Success;
        notServed.AddOrUpdate($"{(int)response.StatusCode} {await OrderTraffic.CauseAsync(response, ct)}", 1, (_, n) => n + 1);
        return (int)response.StatusCode is 429 or 503 ? Outcome.Rejected : Outcome.Error;
    }

    /// <summary>Waits until the phase's committed orders all have an outcome (or the settle time passed), then counts.</summary>
    private async Task<(long Lost, long Phantom, long DuplicateUnits)> CountAsync(Phase phase, int settleSeconds)
    {
        var ids = phase.Keys.Select(OrderIdFor).ToArray();
        try
        {
            await Eventually.WaitAsync(() => LostAsync(ids), n => n == 0, TimeSpan.FromSeconds(settleSeconds), "every committed order decided by Inventory");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // reproduce: some never will be — that is the measurement
        }
        await Task.Delay(TimeSpan.FromSeconds(2), Ct); // late phantoms: an event published just before the count
        var lost = await LostAsync(ids);
        var committed = (await QueryIdsAsync(system.Orders, "SELECT id FROM orders WHERE id = ANY($1)", ids)).ToHashSet();
        var decided = await QueryIdsAsync(system.InventoryDb, "SELECT order_id FROM reservation_outcomes WHERE order_id = ANY($1)", ids);
        var phantom = decided.Count(id => !committed.Contains(id));
        var taken = await Invariants.ScalarAsync(system.InventoryDb,
            $"SELECT {Stock * Skus.Length} - sum(available) FROM catalog_items WHERE sku = ANY(@p)".Replace("@p", "$1", StringComparison.Ordinal), Ct, (object)Skus);
        var reserved = await Invariants.ScalarAsync(system.InventoryDb,
            "SELECT coalesce(sum(quantity), 0) FROM reservations WHERE order_id = ANY($1)", Ct, ids);
        return (lost, phantom, taken - reserved);
    }

    private async Task<long> LostAsync(Guid[] ids)
    {
        var committed = await QueryIdsAsync(system.Orders, "SELECT id FROM orders WHERE id = ANY($1)", ids);
        if (committed.Count == 0) return 0;
        var decided = (await QueryIdsAsync(system.InventoryDb, "SELECT order_id FROM reservation_outcomes WHERE order_id = ANY($1)", [.. committed])).ToHashSet();
        return committed.Count(id => !decided.Contains(id));
    }

    private async Task<(double P50, double P90, double P99, long Count)> PublishLatencyAsync(List<string> keys)
    {
        var ids = keys.Select(OrderIdFor).ToArray();
        var rows = await QueryAsync(system.Orders, """
            SELECT extract(epoch FROM m.published_at - m.created_at)::float8 * 1000
            FROM outbox_messages m
            WHERE m.status = 'published' AND (m.payload->>'orderId')::uuid = ANY($1)
            ORDER BY 1
            """, ids, r => r.GetDouble(0));
        if (rows.Count == 0)
        {
            return (0, 0, 0, 0);
        }
        return (rows[rows.Count / 2], rows[(int)Math.Ceiling(rows.Count * 0.9) - 1], rows[(int)Math.Ceiling(rows.Count * 0.99) - 1], rows.Count);
    }

    // The operator's repair a dual write needs (the outbox never does): re-send OrderPlaced for lost orders through the
    // outbox, and give back the stock phantom events took.
    private async Task RepairAsync(List<string> keys)
    {
        if (keys.Count == 0) return;
        var ids = keys.Select(OrderIdFor).ToArray();
        await ExecuteAsync(system.Orders, """
            INSERT INTO outbox_messages (id, message_type, payload)
            SELECT gen_random_uuid(), 'ReliableShop.Contracts.OrderPlaced',
                   jsonb_build_object('orderId', o.id, 'lines',
                       (SELECT jsonb_agg(jsonb_build_object('sku', l.sku, 'quantity', l.quantity)) FROM order_lines l WHERE l.order_id = o.id))
            FROM orders o WHERE o.id = ANY($1) AND o.status = 'Placed'
            """, ids);
        await ExecuteAsync(system.Orders, "SELECT pg_notify('reliableshop_outbox', '') WHERE $1::uuid[] IS NOT NULL", ids);
        var committed = (await QueryIdsAsync(system.Orders, "SELECT id FROM orders WHERE id = ANY($1)", ids)).ToHashSet();
        var phantoms = ids.Where(id => !committed.Contains(id)).ToArray();
        if (phantoms.Length == 0) return;
        await ExecuteAsync(system.InventoryDb, """
            UPDATE catalog_items c SET available = available + r.units
            FROM (SELECT sku, sum(quantity) AS units FROM reservations WHERE order_id = ANY($1) GROUP BY sku) r WHERE c.sku = r.sku
            """, phantoms);
        await ExecuteAsync(system.InventoryDb, "DELETE FROM reservations WHERE order_id = ANY($1)", phantoms);
        await ExecuteAsync(system.InventoryDb, "DELETE FROM reservation_outcomes WHERE order_id = ANY($1)", phantoms);
    }

    private static async Task ExecuteAsync(Npgsql.NpgsqlDataSource db, string sql, Guid[] ids)
    {
        await using var command = db.CreateCommand(sql);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = ids });
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    private Task<List<Guid>> QueryIdsAsync(Npgsql.NpgsqlDataSource db, string sql, Guid[] ids) => QueryAsync(db, sql, ids, r => r.GetGuid(0));

    private static async Task<List<T>> QueryAsync<T>(Npgsql.NpgsqlDataSource db, string sql, Guid[] ids, Func<Npgsql.NpgsqlDataReader, T> map)
    {
        await using var command = db.CreateCommand(sql);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = ids });
        await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
        var list = new List<T>();
        while (await reader.ReadAsync(CancellationToken.None)) list.Add(map(reader));
        return list;
    }

    // Same derivation as services/Ordering/Orders/OrderIdentity.cs: the order id of an Idempotency-Key.
    private static Guid OrderIdFor(string idempotencyKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("reliableshop:order:" + idempotencyKey), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

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
