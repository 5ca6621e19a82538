// skip-locked-queue through the toggle, on the whole system (2 Ordering replicas competing for one jobs table): drill
// jobs (JobQueueDrill/DrillJob.cs, 20 ms handler, every run recorded) enqueued through the admin API, worker count set
// per instance at runtime. Scaled for 2 cores; the precise library-level proof with every criterion is
// tests/Jobs.Tests/SkipLockedQueueDrillTests.cs. Numbers: artifacts/drills/skip-locked-queue.txt.
using System.Net.Http.Json;
using System.Text.Json;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

[Collection(SystemCollection.Name)]
public sealed class SkipLockedQueueDrillTests(SystemFixture system, ITestOutputHelper output)
{
    private const string Kind = "drill-noop";
    private const int LeaseSeconds = 5, ReaperSeconds = 1; // SystemFixture's Jobs settings
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Drill_SelectThenUpdateDuplicatesAndStrands_SkipLockedRunsEachJobOnce()
    {
        var drill = new Drill(system, "skip-locked-queue", output);
        var configuredWorkers = await WorkersAsync(drill);
        try
        {
            drill.Record($"# 2 Ordering replicas, handler 20 ms, lease {LeaseSeconds} s, reaper {ReaperSeconds} s, Jobs:Workers {configuredWorkers} per replica");
            // baseline (off)
            await ResetAsync();
            await EnqueueAsync(200, 0);
            await WaitFinishedAsync(120);
            drill.Record($"off: 200 jobs, duplicate executions {await DuplicatesAsync()}");
            Assert.Equal(0L, await DuplicatesAsync());

            // reproduce 1: select-then-update, 8 workers per replica, 5 % crashes
            await SetWorkersAsync(drill, 8);
            await drill.SetAsync("reproduce", new { claimStrategy = 1, workerCrashPercent = 5, handlerMs = 20 }, Ct);
            await ResetAsync();
            await EnqueueAsync(500, 0);
            await Eventually.WaitAsync(() => CountAsync("state = 'queued'"), n => n == 0, TimeSpan.FromSeconds(120), "queue drained");
            await Task.Delay(TimeSpan.FromSeconds(LeaseSeconds + ReaperSeconds + 2), Ct); // a lease + a reaper pass: a crashed job would be back
            var duplicates = await DuplicatesAsync();
            var stuck = await CountAsync("state = 'running'");
            drill.Record($"reproduce select-then-update: 500 jobs, 2 × 8 workers: duplicate executions {duplicates}, " +
                         $"stuck 'running' (no lease) {stuck} after lease + reaper");
            Assert.True(duplicates > 0, "select-then-update must run some jobs twice");
            Assert.True(stuck > 0, "without a lease a crashed worker's job stays 'running'");

            // reproduce 2: blocking FOR UPDATE processed inside the claim transaction — 8 workers ≈ 1 worker
            await drill.SetAsync("reproduce", new { claimStrategy = 2, workerCrashPercent = 0, handlerMs = 20 }, Ct);
            var blocking1 = await ThroughputAsync(drill, 1, 120);
            var blocking8 = await ThroughputAsync(drill, 8, 200);
            drill.Record($"reproduce blocking FOR UPDATE: 2 × 1 workers {blocking1:0.0} jobs/s, 2 × 8 workers {blocking8:0.0} jobs/s, ratio {blocking8 / blocking1:0.00}");
            Assert.True(blocking8 <= 1.5 * blocking1, $"blocking claim must not scale: {blocking8:0.0} vs {blocking1:0.0} jobs/s");

            // contain: SKIP LOCKED batch claim + lease + reaper, same 5 % crashes, 1 % poison
            await drill.SetAsync("contain", new { workerCrashPercent = 0, handlerMs = 20 }, Ct);
            var contain1 = await ThroughputAsync(drill, 1, 120);
            var contain8 = await ThroughputAsync(drill, 8, 800);
            drill.Record($"contain SKIP LOCKED: 2 × 1 workers {contain1:0.0} jobs/s, 2 × 8 workers {contain8:0.0} jobs/s, ratio {contain8 / contain1:0.00}");
            Assert.True(contain8 >= 3 * contain1, $"SKIP LOCKED must scale with workers: {contain8:0.0} vs {contain1:0.0} jobs/s");

            await drill.SetAsync("contain", new { workerCrashPercent = 5, handlerMs = 20 }, Ct);
            await ResetAsync();
            await EnqueueAsync(500, 100);
            await WaitFinishedAsync(120);
            var containDuplicates = await DuplicatesAsync();
            var deadPoison = await CountAsync("state = 'dead' AND payload ? 'poison'");
            // A claim crashes with 5 % chance on every attempt, so a healthy job dies when all 3 of its attempts crash
            // (0.05³ × 495 ≈ 0.06 per run): such a job never reached its handler. Any other healthy death is a defect.
            var deadCrashedEveryAttempt = await CountAsync($"""
                state = 'dead' AND NOT payload ? 'poison' AND attempt = max_attempts
                AND NOT EXISTS (SELECT 1 FROM job_drill_executions e WHERE e.job_id = jobs.id)
                """);
            var deadOther = await CountAsync("state = 'dead' AND NOT payload ? 'poison'") - deadCrashedEveryAttempt;
            var succeeded = await CountAsync("state = 'succeeded'");
            var reaped = await CountAsync("attempt > 1 AND state = 'succeeded'");
            drill.Record($"contain + 5 % crashes + 1 % poison: 500 jobs, succeeded {succeeded}, duplicate executions {containDuplicates}, " +
                         $"crashed and re-run by the reaper {reaped}, dead: poison {deadPoison} of 5, crashed on all 3 attempts " +
                         $"{deadCrashedEveryAttempt}, other {deadOther}, stuck 0");
            Assert.Equal(0L, containDuplicates);
            Assert.Equal(5L, deadPoison);
            Assert.Equal(0L, deadOther);
            Assert.Equal(495L - deadCrashedEveryAttempt, succeeded);
            Assert.True(reaped > 0, "some crashed jobs must have been re-run after their lease");
        }
        finally
        {
            await drill.ResetModesAsync(CancellationToken.None);
            await SetWorkersAsync(drill, configuredWorkers);
            await ResetAsync();
        }
        await drill.SetAsync("off", Ct);
    }

    private async Task<double> ThroughputAsync(Drill drill, int workers, int jobs)
    {
        await SetWorkersAsync(drill, workers);
        await Task.Delay(TimeSpan.FromMilliseconds(500), Ct); // the naive pool restarts its loops on a worker change
        await ResetAsync();
        await EnqueueAsync(jobs, 0);
        await WaitFinishedAsync(180);
        var seconds = await ScalarAsync<double>("SELECT extract(epoch FROM max(at) - min(at))::float8 FROM job_drill_executions");
        return (jobs - 1) / seconds;
    }

    private static async Task<int> WorkersAsync(Drill drill)
    {
        var found = 0;
        await drill.ForEveryInstanceAsync(async (client, instance) =>
        {
            if (instance.Service != "ordering") return;
            using var json = JsonDocument.Parse(await client.GetStringAsync("/admin/jobs/workers", Ct));
            found = json.RootElement.GetProperty("workers").GetInt32();
        });
        return found;
    }

    private static Task SetWorkersAsync(Drill drill, int workers) => drill.ForEveryInstanceAsync(async (client, instance) =>
    {
        if (instance.Service != "ordering") return;
        using var response = await client.PutAsJsonAsync("/admin/jobs/workers", new { workers }, CancellationToken.None);
        response.EnsureSuccessStatusCode();
    });

    private async Task EnqueueAsync(int count, int poisonEvery)
    {
        using var response = await system.Ordering.PostAsync($"/admin/jobs/drill?count={count}&poisonEvery={poisonEvery}", null, Ct);
        response.EnsureSuccessStatusCode();
    }

    private Task WaitFinishedAsync(int seconds) =>
        Eventually.WaitAsync(() => CountAsync("state IN ('queued', 'running')"), n => n == 0, TimeSpan.FromSeconds(seconds), "drill jobs finished");

    private Task ResetAsync() => ExecuteAsync($"DELETE FROM jobs WHERE kind = '{Kind}'; TRUNCATE job_drill_executions;");

    private Task<long> DuplicatesAsync() => ScalarAsync<long>($"""
        SELECT coalesce(sum(runs - 1), 0)::bigint FROM (
            SELECT e.job_id, count(*) AS runs FROM job_drill_executions e JOIN jobs j ON j.id = e.job_id
            WHERE NOT j.payload ? 'poison' GROUP BY e.job_id) r
        """);

    private Task<long> CountAsync(string where) => ScalarAsync<long>($"SELECT count(*) FROM jobs WHERE kind = '{Kind}' AND {where}");

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = system.Orders.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync(CancellationToken.None))!;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = system.Orders.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }
}
