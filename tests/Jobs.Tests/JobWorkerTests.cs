// Proves the worker guarantees against real PostgreSQL with real hosts: exactly one run per job across replicas,
// crash recovery by the reaper with a fenced stale claimant, retry → dead, shutdown release, NOTIFY wake-up, cleanup.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ReliableShop.TestServers;
using static ReliableShop.Jobs.Tests.JobsTestHost;

namespace ReliableShop.Jobs.Tests;

public sealed class JobWorkerTests
{
    [Fact]
    public async Task Workers_TwoReplicasFourWorkersEach_EveryJobExecutedExactlyOnce()
    {
        var db = await CreateDatabaseAsync();
        // A 10 s lease: this test is about concurrent claims, not lease expiry on a loaded machine.
        using var a = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"), "LeaseSeconds=10");
        using var b = await StartAsync(db, "b", s => s.AddJobHandler<RecordingHandler>("work"), "LeaseSeconds=10");

        await ExecuteAsync(db, $"""
            INSERT INTO jobs (kind, payload) SELECT 'work', jsonb_build_object('n', n) FROM generate_series(1, 1000) n;
            NOTIFY {JobQueue.Channel};
            """);

        await Eventually.WaitAsync(() => ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"),
            n => n == 1000, TimeSpan.FromSeconds(60), "1,000 jobs succeeded");
        Assert.Equal(1000L, await ScalarAsync<long>(db, "SELECT count(*) FROM executions"));
        Assert.Equal(1000L, await ScalarAsync<long>(db, "SELECT count(DISTINCT job_id) FROM executions"));
        Assert.Equal(2L, await ScalarAsync<long>(db, "SELECT count(DISTINCT replica) FROM executions")); // both competed
        Assert.Equal(0L, await ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE attempt <> 1"));
        await Task.WhenAll(a.StopAsync(Ct), b.StopAsync(Ct));
    }

    [Fact]
    public async Task Workers_QueueLongerThanPool_NeverMoreThanWorkersInFlight()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<SlowHandler>("slow"), "Workers=3", "BatchSize=10", "LeaseSeconds=10");

        await ExecuteAsync(db, $"INSERT INTO jobs (kind, payload) SELECT 'slow', '{{}}' FROM generate_series(1, 30); NOTIFY {JobQueue.Channel};");

        await Eventually.WaitAsync(() => ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"),
            n => n == 30, TimeSpan.FromSeconds(20), "30 slow jobs succeeded");
        Assert.Equal(3, host.Services.GetRequiredService<ConcurrencyProbe>().Max); // saturated, never above the bound
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task KindConcurrency_BacklogOfLimitedKind_HoldsOneWorkerWhileOtherKindsRun()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddSingleton<Gate>().AddJobHandler<GatedHandler>("backlog").AddJobHandler<RecordingHandler>("live"),
            "Workers=4", "BatchSize=10", "LeaseSeconds=30", "KindConcurrency:backlog=1");
        var gate = host.Services.GetRequiredService<Gate>();

        // The backlog is older, so a plain FIFO claim would hand it every worker; its handlers block until the gate opens.
        await ExecuteAsync(db, $"INSERT INTO jobs (kind, payload) SELECT 'backlog', '{{}}' FROM generate_series(1, 20); NOTIFY {JobQueue.Channel};");
        await Eventually.WaitAsync(() => ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'backlog' AND state = 'running'"),
            n => n >= 1, TimeSpan.FromSeconds(20), "a backlog job running");
        await ExecuteAsync(db, $"INSERT INTO jobs (kind, payload) SELECT 'live', '{{}}' FROM generate_series(1, 50); NOTIFY {JobQueue.Channel};");

        // Live work runs on the other three workers while the backlog job still holds its one.
        await Eventually.WaitAsync(() => ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'live' AND state = 'succeeded'"),
            n => n == 50, TimeSpan.FromSeconds(30), "50 live jobs succeeded beside the blocked backlog");
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'backlog' AND state = 'running'"));
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM executions e JOIN jobs j ON j.id = e.job_id WHERE j.kind = 'backlog'"));

        gate.Open();
        await Eventually.WaitAsync(() => ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'backlog' AND state = 'succeeded'"),
            n => n == 20, TimeSpan.FromSeconds(30), "the 20 backlog jobs succeeded one at a time");
        Assert.Equal(1, gate.Probe.Max);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task KindRatePerSecond_BacklogOfPacedKind_StartsOnlyWhatEachSecondAllowsWhileOtherKindsRun()
    {
        var db = await CreateDatabaseAsync();
        // Time is fake: it moves only when the test advances it, so "no more than 5 in this second" is exact.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var host = await StartAsync(db, "a", s => s.AddSingleton<TimeProvider>(time)
                .AddJobHandler<RecordingHandler>("backlog").AddJobHandler<RecordingHandler>("live"),
            "Workers=4", "BatchSize=10", "LeaseSeconds=30", "KindRatePerSecond:backlog=5");

        await ExecuteAsync(db, $"INSERT INTO jobs (kind, payload) SELECT 'backlog', '{{}}' FROM generate_series(1, 20); NOTIFY {JobQueue.Channel};");
        await Eventually.WaitAsync(() => SucceededAsync("backlog"), n => n >= 5, TimeSpan.FromSeconds(20), "the first second's 5 backlog jobs");
        // Live jobs are claimed by the same dispatcher, which looks at the backlog's pace on every claim: when they have
        // all run, the backlog has had every chance to start a sixth job, and must not have.
        await ExecuteAsync(db, $"INSERT INTO jobs (kind, payload) SELECT 'live', '{{}}' FROM generate_series(1, 30); NOTIFY {JobQueue.Channel};");
        await Eventually.WaitAsync(() => SucceededAsync("live"), n => n == 30, TimeSpan.FromSeconds(20), "30 live jobs beside the paced backlog");
        Assert.Equal(5L, await SucceededAsync("backlog"));

        time.Advance(TimeSpan.FromSeconds(1)); // the poll timer fires; one more second's worth
        await Eventually.WaitAsync(() => SucceededAsync("backlog"), n => n >= 10, TimeSpan.FromSeconds(20), "the second second's 5");
        await ExecuteAsync(db, $"INSERT INTO jobs (kind, payload) SELECT 'live', '{{}}' FROM generate_series(1, 30); NOTIFY {JobQueue.Channel};");
        await Eventually.WaitAsync(() => SucceededAsync("live"), n => n == 60, TimeSpan.FromSeconds(20), "30 more live jobs");
        Assert.Equal(10L, await SucceededAsync("backlog"));
        Assert.Equal(10L, await ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'backlog' AND state = 'queued'"));
        await host.StopAsync(Ct);

        Task<long> SucceededAsync(string kind) => ScalarAsync<long>(db, $"SELECT count(*) FROM jobs WHERE kind = '{kind}' AND state = 'succeeded'");
    }

    [Fact]
    public async Task Reaper_WorkerDiesAfterClaim_JobRerunsAfterLeaseAndStaleCompletionIsRejected()
    {
        var db = await CreateDatabaseAsync();
        var id = (await EnqueueAsync(db, "work"))!.Value;
        await using var dataSource = NpgsqlDataSource.Create(db);
        var store = new JobStore(dataSource);
        // The "dead worker": claims with the real claim SQL and a 1 s lease, then never completes.
        var stale = Assert.Single(await store.ClaimAsync(["work"], 1, TimeSpan.FromSeconds(1), Ct));

        using var host = await StartAsync(db, "survivor", s => s.AddJobHandler<RecordingHandler>("work"));

        await WaitForStateAsync(db, id, "succeeded");
        Assert.Equal(2, await ScalarAsync<int>(db, $"SELECT attempt FROM jobs WHERE id = {id}")); // the crashed run counted
        Assert.Equal("survivor", await ScalarAsync<string>(db, $"SELECT string_agg(replica, ',') FROM executions WHERE job_id = {id}"));
        Assert.Empty(await store.SucceedAsync([stale], Ct)); // the fence: 0 rows
        Assert.False(await store.DeadAsync(stale, "late", Ct));
        Assert.Equal("succeeded", await StateAsync(db, id));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Fence_LeaseReapedAndJobReclaimed_OnlyNewClaimantCanComplete()
    {
        var db = await CreateDatabaseAsync();
        var id = (await EnqueueAsync(db, "work"))!.Value;
        await using var dataSource = NpgsqlDataSource.Create(db);
        var store = new JobStore(dataSource);
        var first = Assert.Single(await store.ClaimAsync(["work"], 1, TimeSpan.FromSeconds(1), Ct));
        using var reaperOnly = await StartAsync(db, "reaper", _ => { }); // no handlers: it only reaps

        await WaitForStateAsync(db, id, "queued");
        var second = Assert.Single(await store.ClaimAsync(["work"], 1, TimeSpan.FromSeconds(30), Ct));

        Assert.Equal(2, second.Attempt);
        Assert.Empty(await store.SucceedAsync([first], Ct));
        Assert.False(await store.RetryAsync(first, TimeSpan.Zero, "late", Ct));
        Assert.False(await store.DeadAsync(first, "late", Ct));
        Assert.False(await store.ReleaseAsync(first, Ct));
        Assert.Equal("running", await StateAsync(db, id));
        Assert.Equal([id], await store.SucceedAsync([second], Ct));
        Assert.Equal("succeeded", await StateAsync(db, id));
        await reaperOnly.StopAsync(Ct);
    }

    [Fact]
    public async Task Retry_HandlerAlwaysFails_DeadAfterMaxAttempts()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<FailingHandler>("flaky"), "MaxAttempts=4");

        var id = (await EnqueueAsync(db, "flaky"))!.Value;

        await WaitForStateAsync(db, id, "dead");
        Assert.Equal(4, await ScalarAsync<int>(db, $"SELECT attempt FROM jobs WHERE id = {id}"));
        Assert.Equal(4L, await ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {id}"));
        Assert.Contains("always fails (attempt 4)", await ScalarAsync<string>(db, $"SELECT last_error FROM jobs WHERE id = {id}"));
        Assert.Equal(1L, (await host.Services.GetRequiredService<JobsAdmin>().GetStatsAsync(Ct)).Dead);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Retry_FailureWithRetryAfterHint_NextAttemptNotBeforeTheHint()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<HintedFailureHandler>("breaker-open"));

        var id = (await EnqueueAsync(db, "breaker-open"))!.Value;

        // The test host's backoff alone would retry within 50 ms; the hint (an hour) moves the next attempt to [1 h, 1.5 h] from now.
        await Eventually.WaitAsync(() => ScalarAsync<int>(db, $"SELECT coalesce((SELECT attempt FROM jobs WHERE id = {id} AND state = 'queued'), 0)"),
            attempt => attempt == 1, TimeSpan.FromSeconds(10), "first attempt failed and the job queued again");
        var waitMinutes = await ScalarAsync<double>(db, $"SELECT (extract(epoch FROM run_at - now()) / 60)::float8 FROM jobs WHERE id = {id}");
        Assert.InRange(waitMinutes, 59, 90);
        Assert.Equal(1L, await ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {id}"));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Retry_PermanentJobFailureException_DeadAfterOneAttempt()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<PermanentlyFailingHandler>("poison"), "MaxAttempts=8");

        var id = (await EnqueueAsync(db, "poison"))!.Value;

        await WaitForStateAsync(db, id, "dead");
        Assert.Equal(1, await ScalarAsync<int>(db, $"SELECT attempt FROM jobs WHERE id = {id}"));
        Assert.Equal(1L, await ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {id}"));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Admin_RequeueDead_JobRunsAgainWithFreshBudget()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<PermanentlyFailingHandler>("poison"));
        var id = (await EnqueueAsync(db, "poison"))!.Value;
        await WaitForStateAsync(db, id, "dead");

        Assert.Equal(1, await host.Services.GetRequiredService<JobsAdmin>().RequeueDeadAsync(id, Ct));

        await Eventually.WaitAsync(() => ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {id}"),
            n => n == 2, TimeSpan.FromSeconds(10), "second run after requeue");
        await WaitForStateAsync(db, id, "dead");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Shutdown_HandlerRunning_JobReleasedWithoutConsumingAnAttempt()
    {
        var db = await CreateDatabaseAsync();
        var host = await StartAsync(db, "a", s => s.AddJobHandler<WaitForCancellationHandler>("long"), "LeaseSeconds=60");
        var id = (await EnqueueAsync(db, "long"))!.Value;
        await Eventually.WaitAsync(() => ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {id}"),
            n => n == 1, TimeSpan.FromSeconds(10), "handler started");

        await host.StopAsync(Ct);
        host.Dispose();

        Assert.Equal("queued", await StateAsync(db, id));
        Assert.Equal(0, await ScalarAsync<int>(db, $"SELECT attempt FROM jobs WHERE id = {id}"));
        Assert.True(await ScalarAsync<bool>(db, $"SELECT locked_by IS NULL AND locked_until IS NULL FROM jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task Lease_HandlerOverrunsLease_CancelledAndCountedAsFailedAttempt()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<WaitForCancellationHandler>("long"), "LeaseSeconds=1", "MaxAttempts=1");

        var id = (await EnqueueAsync(db, "long"))!.Value;

        await WaitForStateAsync(db, id, "dead");
        Assert.Contains("TaskCanceledException", await ScalarAsync<string>(db, $"SELECT last_error FROM jobs WHERE id = {id}"));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Notify_PollIntervalThirtySeconds_CommittedJobRunsWithinTwoSeconds()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"),
            "PollIntervalMs=30000", "LeaseSeconds=60");
        await Eventually.WaitAsync(() => ListenerPidAsync(db), pid => pid != 0, TimeSpan.FromSeconds(10), "listener connected");
        // Warm-up: consumes the listener's start-up signal, so the measured job below can only be woken by its NOTIFY.
        await WaitForStateAsync(db, (await EnqueueAsync(db, "work"))!.Value, "succeeded");

        var started = System.Diagnostics.Stopwatch.StartNew();
        var id = (await EnqueueAsync(db, "work"))!.Value;

        await WaitForStateAsync(db, id, "succeeded", seconds: 2);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"took {started.Elapsed}");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Notify_ListenerConnectionKilled_ReconnectsAndWakesWorkersAgain()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"),
            "PollIntervalMs=30000", "LeaseSeconds=60");
        var killed = await Eventually.WaitAsync(() => ListenerPidAsync(db), pid => pid != 0, TimeSpan.FromSeconds(10), "listener connected");

        await ExecuteAsync(db, $"SELECT pg_terminate_backend({killed})");

        await Eventually.WaitAsync(() => ListenerPidAsync(db), pid => pid != 0 && pid != killed, TimeSpan.FromSeconds(10), "listener reconnected");
        await WaitForStateAsync(db, (await EnqueueAsync(db, "work"))!.Value, "succeeded"); // consumes the reconnect signal
        var id = (await EnqueueAsync(db, "work"))!.Value;
        await WaitForStateAsync(db, id, "succeeded", seconds: 2); // poll is 30 s: only the new LISTEN can wake it this fast
        await host.StopAsync(Ct);
    }

    private static Task<int> ListenerPidAsync(string db) => ScalarAsync<int>(db,
        $"SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN {JobQueue.Channel}'");

    [Fact]
    public async Task Cleanup_OldAndRecentRows_DeletesOnlyOldSucceeded()
    {
        var db = await CreateDatabaseAsync();
        await ExecuteAsync(db, """
            INSERT INTO jobs (kind, payload, state, finished_at)
            SELECT 'old', '{}', 'succeeded', now() - interval '48 hours' FROM generate_series(1, 2500); -- > 2 batches
            INSERT INTO jobs (kind, payload, state, finished_at) VALUES
                ('recent', '{}', 'succeeded', now() - interval '1 hour'),
                ('dead', '{}', 'dead', now() - interval '48 hours');
            INSERT INTO jobs (kind, payload, created_at, run_at) VALUES ('queued', '{}', now() - interval '48 hours', now() + interval '1 day');
            """);

        using var host = await StartAsync(db, "a", _ => { }, "CleanupIntervalSeconds=1", "RetentionHours=24");

        await Eventually.WaitAsync(() => ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'old'"),
            n => n == 0, TimeSpan.FromSeconds(10), "old succeeded rows deleted");
        Assert.Equal("dead,queued,recent", await ScalarAsync<string>(db, "SELECT string_agg(kind, ',' ORDER BY kind) FROM jobs"));
        await host.StopAsync(Ct);
    }
}
