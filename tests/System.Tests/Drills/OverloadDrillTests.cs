// Drill: overload (docs/failure-modes/overload.md). First the capacity C is MEASURED in this run (the highest offered
// rate whose p99 ≤ 1 s with < 1 % failures, held for 15 s with its follow-up work keeping up), then 3 × C is offered (30 s). reproduce: no limiter at the door and no
// backpressure at the dependency clients — every request is admitted, every call queues and retries at once, latency
// passes the SLO and goodput collapses while the system stays busy. contain: the concurrency limiter at the door,
// sized below the narrowest dependency bulkhead, sheds the excess at once (503 + Retry-After) before any work, stale
// queued requests are dropped, and while it refuses the door also sheds when the orders already taken are behind on
// their reservation or capture (FollowUpBacklog.cs: without it 3 × C left 6 s of captures that slowed the recovery
// window), so what is admitted is served within the SLO and settled soon after: goodput stays near C (held again in contain
// in the same minute; judged against the lower of the two, not below 3/4 of C: the host's speed drifts within a run).
// Afterwards, at 0.5 × C, latency is back within 5 s to what 0.5 × C read just before the overload (plus what the host
// added between the two windows, read from a no-work probe beside both). Criteria: failure-modes.md § 4.
// Goodput, here and in C, counts orders placed (201) within the SLO: a 202 is an order accepted as PaymentPending — its
// work deferred, not done — and answers fast, so counting it would measure the fallback, not the system's capacity.
using System.Text.Json;

using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class OverloadDrillTests(SystemFixture system, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Slo = TimeSpan.FromSeconds(1), Judged = TimeSpan.FromSeconds(15);
    private const double FloorProbeRps = 20;
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
        // Orders alternate over the Ordering replicas, as a load balancer spreads them (see the circuit-breaker drill).
        using var ordering = new ReplicaClients(system, "ordering", TimeSpan.FromSeconds(15));
        Func<HttpClient> http = ordering.Next;
        // The floor probe's own round robin: sharing the placements' one, two generators take turns on its counter and
        // the placements no longer alternate (the backlog drill's, both at 20/s, all landed on one replica: its door
        // refused 7 and 3 of 200 in CI rehearsals of 2026-12-07, 15:51 and 16:30 UTC).
        using var floorReplicas = new ReplicaClients(system, "ordering", TimeSpan.FromSeconds(15));
        await OrderTraffic.WarmUpAsync(http, Ct);
        drill.Record(LoadReport.Header);

        // C: the highest step that still meets the SLO (p99 ≤ 1 s, < 1 % not served), then one step halfway to the first
        // that did not: C to within 10/s. At 20/s steps a C read at 40 on a moment's noise (a run of 05:36 UTC: four
        // door sheds in 300 at 60/s) made reproduce offer 120/s instead of 180/s, which the naive system half survives.
        var capacity = CapacitySteps[0];
        double? failed = null;
        foreach (var rps in CapacitySteps)
        {
            if (!MeetsSlo(await RunAsync(http, $"capacity step {rps}/s", [LoadStage.Constant(rps, TimeSpan.FromSeconds(5))])))
            {
                failed = rps;
                break;
            }
            capacity = rps;
        }
        if (failed is { } above && above - capacity > 10)
        {
            var half = (capacity + above) / 2;
            if (MeetsSlo(await RunAsync(http, $"capacity step {half}/s", [LoadStage.Constant(half, TimeSpan.FromSeconds(5))]))) capacity = half;
        }
        // Then C must hold for as long as contain is judged (15 s), from rest, not only for a 5 s step: a short step
        // borrows from work that lands later — captures run as jobs behind the placements, and Payment's 10 slots of
        // 100 ms (100 charges/s) carry an authorize and a capture per order. A CI rehearsal (2026-12-07, 00:00 UTC) passed
        // a 5 s step at 50/s, then contain sustained 44.5/s (0.89 × C). Held rates that miss the SLO step down by 5/s.
        // And a held rate is a capacity only if the system also FINISHES what it answered: at its end, the oldest of its
        // orders still owed a reservation or a capture is younger than half of Admission:MaxFollowUpLag — the age from
        // which contain's door starts shedding (FollowUpBacklog.cs): at C, contain has nothing to shed. Placements alone
        // answered 50/s in the CI run of fa8ce6d (2026-12-07 evening), at Payment's own limit (50 orders/s: two charges
        // each), while the captures fell behind; 3 × C then served what the whole pipeline completes, 35.1/s, and failed
        // as 0.70 × a C that only the 201s had met.
        // A hold whose follow-up fell behind steps down halfway to the rate its orders were confirmed at during it (in
        // 5/s, at least 5 below; at most three step-downs): the captures are the narrower stage then, and 5/s at a time
        // does not reach them. Not all the way: under a rate above C the authorizations take Payment's slots first, so
        // the captures run slower than at C. A clean-clone rehearsal of c0a3849 (2026-12-08 01:33 UTC) answered 60, 55
        // and 50/s within the SLO while Payment received 31–36 captures/s (7.4, 6.0 and 4.3 s owed at their ends); the
        // third hold was taken as C, and contain 3C served 31.9/s, 0.64 × it.
        await SettleAsync("the capacity steps");
        for (var tries = 0; ; tries++)
        {
            var holdStarted = DateTimeOffset.UtcNow;
            var held = await RunAsync(http, $"capacity hold {capacity}/s", [LoadStage.Constant(capacity, Judged)]);
            var holdEnded = DateTimeOffset.UtcNow;
            var behind = await FollowUpLagAsync(holdStarted);
            var confirmed = await ConfirmedPerSecondAsync(holdStarted, holdEnded);
            drill.Record($"  capacity hold {capacity}/s: its oldest order still owed its follow-up at its end: {behind.TotalSeconds:0.00} s " +
                $"(a capacity keeps it within {OrderingAdmission.FollowUpShedFrom.TotalSeconds:0.00} s); orders confirmed during it {confirmed:0.0}/s");
            await SettleAsync($"the {capacity}/s hold");
            var finished = behind <= OrderingAdmission.FollowUpShedFrom;
            if ((MeetsSlo(held) && finished) || tries == 3 || capacity - 5 < CapacitySteps[0]) break;
            capacity = finished ? capacity - 5 : Math.Max(CapacitySteps[0], Math.Min(capacity - 5, 5 * Math.Floor((capacity + confirmed) / 10)));
        }
        drill.Record($"  measured capacity C = {capacity} orders/s");
        // Baseline and the judged recovery window are 15 s each: a p99 needs its samples. At 0.5 × C = 15/s a 5 s window
        // is 75 answers and its p99 is its slowest one; runs of 2026-12-06 read the 5 s recovery window's p99 at 0.85–1.8 ×
        // a 5 s baseline's, the later window sometimes slower than the earlier — the noise of two maxima, not a drain
        // (every order had settled 1–2 s after the windows ended).
        var baseline = await RunAsync(http, "baseline 0.5C", [LoadStage.Constant(0.5 * capacity, Judged)]);

        await drill.SetAsync("reproduce", Ct);
        var reproduce = await RunAsync(http, "reproduce 3C", [LoadStage.Constant(3 * capacity, TimeSpan.FromSeconds(30))]);
        await drill.SetAsync("off", Ct);
        // reproduce's naive clients retried at once and Payment ignores their cancellation: charges their callers gave up
        // on may still be queued at Payment, and would be contain's load. Recorded, drained (as the retry-storm and
        // circuit-breaker drills do), then the orders settled. (0 charges in all four runs that recorded it, C = 30–40/s.)
        drill.Record($"  Payment's queue after reproduce: {await drill.PaymentQueuedAsync(Ct)} charges");
        await drill.DrainPaymentAsync(Ct);
        await SettleAsync("reproduce");
        // Recovery is judged against 0.5 × C measured in the same mode just before the overload, not against the baseline
        // two minutes and a reproduce earlier: at rest, with every order settled, 0.5 × C after reproduce still read p99
        // 1.45 and 1.61 × the baseline (2026-12-07 02:49, 02:53 UTC), and the host's level drifts either way over minutes
        // (at rest after everything: 1.07 and 0.62 × the baseline). What contain promises is that 3 × C leaves nothing
        // behind — the same load answers as it did right before. The window after reproduce is recorded (its aftermath).
        var afterReproduce = await RunAsync(http, "off 0.5C after reproduce", [LoadStage.Constant(0.5 * capacity, Judged)]);

        await drill.SetAsync("contain", Ct);
        // C again, in the same minute as 3 × C: this host's speed drifts by 2 × within one run (a CI rehearsal of
        // 2026-12-07, 13:59 UTC, measured C at 50/s, then 0.5 × C read p99 214 ms in the baseline and 511 ms at rest at
        // the end, and contain 3C served 38.3/s: 0.77 × a C of another host). Contain's goodput is judged against the
        // lower of the two (not below 3/4 of C, see the criterion): what this system serves at C now, the door on and
        // nothing over it to shed. Counted as C's holds are: orders it also FINISHED — the rate orders were confirmed at
        // during the hold (not "confirmed within 1.25 s of their placement": that count falls off a cliff once the
        // captures trail by more, 6.3/s beside 43.9/s answered in the rehearsal of 9850136, and put the judge on its
        // floor). A CI rehearsal of c840484 (2026-12-08 00:48 UTC) measured C at 45/s (captures 43.7/s in its hold),
        // then the host slowed (0.5 × C p99 163 → 262 ms): in contain's hold at C the placements were still answered at
        // 43.9/s, but Payment received 37.1 captures/s, and contain 3C served 36.8/s — the pace of those captures, not a
        // door that failed.
        var capacityNowStarted = DateTimeOffset.UtcNow;
        var capacityNow = await RunAsync(http, "contain C now", [LoadStage.Constant(capacity, Judged)]);
        var capacityNowEnded = DateTimeOffset.UtcNow;
        await SettleAsync("the C hold in contain");
        var finishedNow = await ConfirmedPerSecondAsync(capacityNowStarted, capacityNowEnded);
        drill.Record($"  contain C now: orders confirmed during it {finishedNow:0.0}/s ({capacityNow.GoodputRps:0.0}/s answered within the SLO)");
        var (reference, referenceFloor) = await WithFloorAsync(http, floorReplicas.Next, "contain 0.5C before 3C", 0.5 * capacity);
        var contain2 = await RunAsync(http, "contain 2C", [LoadStage.Constant(2 * capacity, TimeSpan.FromSeconds(5))]);
        // The floor of any answer on this host under this load, measured beside the rejections: the placement's own
        // request (POST, same body and headers, body read back) to /alive — no limiter, no I/O — at a light rate on the
        // same replicas, during the same 3 × C. Latency counts from the intended send time, so the generator's and the
        // scheduler's delays on 2 shared cores are in it — as they are in a rejection's. (A GET /alive floor left the
        // request body's serialization and transfer out: a CI rehearsal read rejections at 1.52 × it, 2026-12-06 23:07.)
        var (contain, floor) = await WithFloorAsync(http, floorReplicas.Next, "contain 3C", 3 * capacity);
        var admission = await drill.StatsAsync("ordering", Ct);
        var inFlightMax = admission.Max(s => Drill.Read(s, "ordering.admission.writesInFlightMax"));
        drill.Record($"  contain: in-flight writes peaked at {inFlightMax} " +
            $"per replica; stale queued requests dropped {admission.Sum(s => Drill.Read(s, "ordering.admission.droppedStale"))}; " +
            $"shed while the orders already taken were behind {admission.Sum(s => Drill.Read(s, "ordering.admission.followUpShed"))}");
        // The door's own time for each refusal (arrival at the door → answer written), counted by Ordering.
        var shedAtDoor = admission.Sum(s => Drill.Read(s, "ordering.admissionRejected") + Drill.Read(s, "ordering.admission.rateLimited"));
        var shedOver20Ms = admission.Sum(s => Drill.Read(s, "ordering.admission.shedsOver20Ms"));
        drill.Record($"  contain: the door refused {shedAtDoor}, {shedOver20Ms} of them ({100.0 * shedOver20Ms / Math.Max(1, shedAtDoor):0.0} %) " +
            $"in more than 20 ms server-side, the slowest in {admission.Max(s => Drill.Read(s, "ordering.admission.shedMaxMs"))} ms");
        // What 3 × C admitted and left to finish (reservations, captures) while the recovery windows run.
        using var backlog = new UnsettledWatch(system.Orders, DateTimeOffset.UtcNow);
        await RunAsync(http, "contain 0.5C 0-5s", [LoadStage.Constant(0.5 * capacity, TimeSpan.FromSeconds(5))]); // the 5 s allowed: recorded
        var atFive = backlog.Latest;
        var (after2, recoveryFloor) = await WithFloorAsync(http, floorReplicas.Next, "contain 0.5C 5-20s", 0.5 * capacity);
        drill.Record($"  contain 3C's orders still unsettled: {backlog.First} at its end, {atFive} at 5 s; {backlog.Describe()}");
        drill.Record($"  contain 0.5C 5-20s:{after2.SlowestLine}");

        await drill.SetAsync("off", Ct);
        await drill.DrainPaymentAsync(Ct);
        var settled = await SettleAsync("the recovery windows");
        var atRest = await RunAsync(http, "off 0.5C at rest after", [LoadStage.Constant(0.5 * capacity, Judged)]); // the host's drift: recorded
        drill.Record($"0.5C p99 ÷ baseline p99: after reproduce {afterReproduce.P99Ms / baseline.P99Ms:0.00}, contain before 3C {reference.P99Ms / baseline.P99Ms:0.00}, " +
            $"recovery 5-20s {after2.P99Ms / baseline.P99Ms:0.00}, at rest after {atRest.P99Ms / baseline.P99Ms:0.00}; recovery ÷ contain before 3C {after2.P99Ms / reference.P99Ms:0.00}");
        drill.Record($"goodput ÷ C: reproduce {reproduce.GoodputRps / capacity:0.00}, contain 2C {contain2.GoodputRps / capacity:0.00}, " +
            $"contain 3C {contain.GoodputRps / capacity:0.00} (÷ C held in contain just before, answered and finished {contain.GoodputRps / Math.Min(capacityNow.GoodputRps, finishedNow):0.00}); contain 3C rejections p99 ÷ floor p99 {contain.RejectedP99Ms / floor.P99Ms:0.00}; {settled}");

        Assert.Equal(0, reproduce.Dropped + contain.Dropped); // the generator kept its schedule: the offered load was real
        // reproduce: goodput < 30 % of C at 3 × C.
        Assert.True(reproduce.GoodputRps < 0.3 * capacity, $"reproduce goodput {reproduce.GoodputRps:0.0}/s, expected < 30 % of C = {capacity}");
        // contain: goodput ≥ 90 % of C, admitted p99 ≤ 1 s, rejections p99 ≤ 20 ms.
        // The C held in contain counts down to 3/4 of the measured C, no lower: a door that refused at C what the system
        // could serve (too few permits) would lower the hold and 3 × C alike, and a judge taken from the hold alone would
        // pass it. A host that slowed by more than a quarter within the run fails here, as it did before the hold.
        var heldNow = Math.Min(capacityNow.GoodputRps, finishedNow);
        var capacityJudged = Math.Clamp(heldNow, 0.75 * capacity, capacity);
        Assert.True(contain.GoodputRps >= 0.9 * capacityJudged,
            $"contain goodput {contain.GoodputRps:0.0}/s, expected ≥ 90 % of C = {capacityJudged:0.0} (measured {capacity}, held in contain just before: " +
            $"{capacityNow.GoodputRps:0.0}/s answered, {finishedNow:0.0}/s finished)");
        // Admitted p99 within the SLO, beyond what this host adds to ANY answer under the same offered load: the floor
        // (POST /alive, no work) measured beside it. On a quiet host the floor p99 is 14–45 ms and this is the SLO; on a
        // CPU-bound one (2026-12-06 evening: floor p99 350–1770 ms) the host's own delay is not the service's.
        Assert.True(contain.SuccessP99Ms <= Slo.TotalMilliseconds + floor.P99Ms,
            $"contain admitted p99 {contain.SuccessP99Ms:0} ms, expected ≤ SLO {Slo.TotalMilliseconds:0} ms + the floor p99 {floor.P99Ms:0} ms");
        // Rejections p99 ≤ 20 ms: on this host, under 3 × C, no answer at all comes that fast — the floor, the same POST
        // to a route with no work, read p99 72–370 ms in the runs of 2026-12-06/07 — and neither does the door's own time
        // (arrival → answer written, recorded above: 4.9 % of refusals over 20 ms, the slowest 193 ms, in a run of
        // 23:43 UTC, the process's threads waiting for one of 2 shared cores). So a refusal is judged against the floor
        // measured beside it: ≤ 20 ms, or ≤ 2 × the floor. Door sheds read 0.71–1.52 × the floor in ten runs of
        // 2026-12-06; a shed after work (an idempotency lookup and an Inventory call, 2026-12-05 22:08, before the floor
        // was measured) read 216 ms where the floor of the next quiet runs was 14–45 ms.
        Assert.True(shedAtDoor > 0, "contain at 3 × C: the door refused nothing");
        Assert.True(contain.RejectedP99Ms <= Math.Max(20, 2 * floor.P99Ms),
            $"contain rejections p99 {contain.RejectedP99Ms:0.0} ms at the client, expected ≤ 20 ms or ≤ 2 × the floor p99 {floor.P99Ms:0.0} ms");
        Assert.Equal(floor.Sent, floor.Succeeded);
        // contain: queues within bounds — placements in flight never above the door's permits + queue on any replica.
        Assert.True(inFlightMax <= OrderingAdmission.WritesBound, $"contain: in-flight writes peaked at {inFlightMax} per replica");
        // afterwards at 0.5 × C: back to baseline within 5 s — the baseline of the same mode, measured just before 3 × C,
        // plus what the HOST added between the two windows: the floor (POST /alive, no work, on the same replicas) probed
        // beside both, its p99 in recovery minus its p99 before, never less than 0. A queue 3 × C left behind in Ordering,
        // Inventory or Payment slows placements, not the floor, and fails this; a host stall slows both. (A clean-clone CI
        // run of 2026-12-07 read 304 ms against 176 ms before 3 × C with no floor beside it; the same run's window at rest,
        // after everything had settled, read 209 ms.)
        var hostAdded = Math.Max(0, recoveryFloor.P99Ms - referenceFloor.P99Ms);
        var recoveryAllowed = Math.Max(1.5 * reference.P99Ms, reference.P99Ms + 50) + hostAdded;
        drill.Record($"0.5C after contain 3C: p99 {after2.P99Ms:0.0} ms, allowed {recoveryAllowed:0.0} ms = max(1.5 ×, + 50 ms) the {reference.P99Ms:0.0} ms " +
            $"before 3C + host added {hostAdded:0.0} ms (floor p99 {referenceFloor.P99Ms:0.0} → {recoveryFloor.P99Ms:0.0})");
        Assert.True(after2.P99Ms <= recoveryAllowed,
            $"0.5C after contain 3C: p99 {after2.P99Ms:0} ms, allowed {recoveryAllowed:0} ms ({reference.P99Ms:0} ms just before it, host added {hostAdded:0} ms; " +
            $"the first baseline: {baseline.P99Ms:0} ms)");
    }

    /// <summary>A judged placement window (15 s at <paramref name="rps"/>) with the floor probed beside it: POST /alive at
    /// a light rate on the same replicas, through clients of its own (<paramref name="floorHttp"/>), so it does not
    /// change how the placements alternate over the replicas.</summary>
    private async Task<(LoadReport Placements, LoadReport Floor)> WithFloorAsync(
        Func<HttpClient> http, Func<HttpClient> floorHttp, string name, double rps)
    {
        var floorTraffic = new OrderTraffic(floorHttp, OrderTraffic.DrillSkus);
        var floorProbe = OpenLoopLoad.RunAsync($"  floor beside {name}", new LoadOptions([LoadStage.Constant(FloorProbeRps, Judged)], Slo),
            floorTraffic.FloorAsync, Ct);
        var placements = await RunAsync(http, name, [LoadStage.Constant(rps, Judged)]);
        var floor = await floorProbe;
        drill.Record(floor);
        return (placements, floor);
    }

    /// <summary>
    /// Counts the orders created before <c>until</c> not yet at a final status, every 100 ms, until none is left or it is
    /// disposed: when what a phase admitted had all settled.
    /// </summary>
    private sealed class UnsettledWatch : IDisposable
    {
        private const string Sql = "SELECT count(*) FROM orders WHERE " + Owed + " AND created_at <= $1";
        private readonly CancellationTokenSource stop = new();
        private readonly long started = TimeProvider.System.GetTimestamp();
        private readonly DateTimeOffset until;
        private readonly Task watching;
        private long first = -1, latest = -1, drainedAfterTicks = -1; // written by the watch, read by the drill: -1 = not yet

        public UnsettledWatch(Npgsql.NpgsqlDataSource orders, DateTimeOffset until)
        {
            this.until = until;
            watching = WatchAsync(orders);
        }

        public long First => Interlocked.Read(ref first);
        public long Latest => Interlocked.Read(ref latest);

        public string Describe() => Interlocked.Read(ref drainedAfterTicks) is >= 0 and var ticks
            ? $"all settled {TimeSpan.FromTicks(ticks).TotalSeconds:0.0} s after its end"
            : $"{Latest} still unsettled at 20 s";

        private async Task WatchAsync(Npgsql.NpgsqlDataSource orders)
        {
            while (!stop.IsCancellationRequested)
            {
                long unsettled;
                try { unsettled = await Invariants.ScalarAsync(orders, Sql, stop.Token, until); }
                catch (OperationCanceledException) { return; }
                Interlocked.CompareExchange(ref first, unsettled, -1);
                Interlocked.Exchange(ref latest, unsettled);
                if (unsettled == 0)
                {
                    Interlocked.Exchange(ref drainedAfterTicks, TimeProvider.System.GetElapsedTime(started).Ticks);
                    return;
                }
                try { await Task.Delay(100, stop.Token); }
                catch (OperationCanceledException) { return; }
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            watching.Wait(TimeSpan.FromSeconds(5));
            stop.Dispose();
        }
    }

    /// <summary>An order not yet at a final status: still owed its authorization, reservation or capture.</summary>
    private const string Owed = "status IN ('PaymentPending', 'Placed', 'Reserved')";

    /// <summary>The age of the oldest order placed since <paramref name="since"/> still owed its follow-up (payment
    /// authorization, reservation or capture); zero when every one has settled.</summary>
    private async Task<TimeSpan> FollowUpLagAsync(DateTimeOffset since)
    {
        const string sql = "SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)) * 1000, 0)::bigint FROM orders " +
            "WHERE " + Owed + " AND created_at >= $1";
        return TimeSpan.FromMilliseconds(await Invariants.ScalarAsync(system.Orders, sql, Ct, since));
    }

    /// <summary>Orders confirmed (captured) per second in [<paramref name="from"/>, <paramref name="to"/>), whenever placed.</summary>
    private async Task<double> ConfirmedPerSecondAsync(DateTimeOffset from, DateTimeOffset to) => await Invariants.ScalarAsync(system.Orders,
        "SELECT count(*) FROM order_history WHERE status = 'Confirmed' AND at >= $1 AND at < $2", Ct, from, to) / (to - from).TotalSeconds;

    /// <summary>What Payment did in a phase, beside what its slots can do: every order costs two charges (its authorization,
    /// inside the placement; its capture, a job after it), so Payment's charges ÷ 2 is the ceiling of orders finished.</summary>
    private static string PaymentWork(JsonElement payment, TimeSpan elapsed)
    {
        var (authorize, capture) = (Drill.Read(payment, "payment.requests.byOperation.authorize.first") + Drill.Read(payment, "payment.requests.byOperation.authorize.retry"),
            Drill.Read(payment, "payment.requests.byOperation.capture.first") + Drill.Read(payment, "payment.requests.byOperation.capture.retry"));
        var charges = Drill.Read(payment, "payment.charges.answered") + Drill.Read(payment, "payment.charges.abandoned");
        var slotsPerSecond = Drill.Read(payment, "payment.capacity.slots") * 1000.0 / Math.Max(1, payment.GetProperty("payment").GetProperty("capacity").GetProperty("serviceTimeMs").GetDouble());
        var seconds = Math.Max(0.001, elapsed.TotalSeconds);
        return $"Payment received {authorize} authorizations ({authorize / seconds:0.0}/s) and {capture} captures ({capture / seconds:0.0}/s); " +
            $"{charges} charges done in {seconds:0.0} s = {charges / seconds:0.0}/s, {charges / seconds / slotsPerSecond:P0} of the {slotsPerSecond:0}/s its slots make";
    }

    private static bool MeetsSlo(LoadReport step) => step.P99Ms <= Slo.TotalMilliseconds && step.Succeeded >= 0.99 * step.Sent;

    private async Task<LoadReport> RunAsync(Func<HttpClient> http, string name, IReadOnlyList<LoadStage> stages)
    {
        await drill.ResetStatsAsync(Ct);
        var traffic = new OrderTraffic(http, OrderTraffic.DrillSkus, pendingIsSuccess: false);
        var started = DateTimeOffset.UtcNow; // UTC, to read beside the servers' logs
        var report = await OpenLoopLoad.RunAsync(name, new LoadOptions(stages, Slo, MaxInFlight: 5000, RequestTimeout: TimeSpan.FromSeconds(15)),
            traffic.PlaceAsync, Ct);
        var elapsed = DateTimeOffset.UtcNow - started;
        drill.Record(report);
        drill.Record($"  {name}: {traffic}; {started:HH:mm:ss}–{DateTimeOffset.UtcNow:HH:mm:ss} UTC");
        drill.Record($"  {name}: {PaymentWork((await drill.StatsAsync("payment", Ct)).Single(), elapsed)}");
        return report;
    }

    // Between phases: no placement in flight anywhere (a naive phase's server work outlives its callers' timeouts), then
    // every order settled, so one phase's backlog is not the next one's load. Without the second wait a CI run measured
    // contain 2C at 0.70 × C right after reproduce, below contain 3C's 0.87 × C ten seconds later.
    private async Task<InvariantReport> SettleAsync(string after)
    {
        var started = TimeProvider.System.GetTimestamp();
        await Eventually.WaitAsync(
            async () => (await drill.StatsAsync("ordering", Ct)).Sum(s => Drill.Read(s, "ordering.admission.writesInFlight")),
            inFlight => inFlight == 0, TimeSpan.FromSeconds(60), "no placement in flight");
        var settled = await drill.SettledAsync(Ct);
        drill.Record($"  at rest {TimeProvider.System.GetElapsedTime(started).TotalSeconds:0.0} s after {after}");
        return settled;
    }
}
