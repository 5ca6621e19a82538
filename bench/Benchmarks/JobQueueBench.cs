// B1/B2: the job queue (services/Jobs: the real worker pool, claim SQL and group-committed completions) draining N
// no-op jobs, beside pgbench running the same claim + fenced completion SQL on as many connections as the pool keeps
// busy (one claimer + one completer = 2). B1 claims one job per statement, B2 up to 100.
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using ReliableShop.Jobs;

namespace ReliableShop.Benchmarks;

internal sealed class JobQueueBench(BenchEnvironment env)
{
    private const string Kind = "bench";
    private const int Connections = 2; // the pool's busy connections: one claim loop + one completer

    // JobStore's claim and completion, as pgbench variables. The token is derived from a pgbench random number on the
    // server (no extra round trip); the claimed ids come back as one array (\gset) for the fenced completion.
    private static string Script(int batch) => $$"""
        \set t random(1, 1000000000000)
        WITH claimed AS (
          UPDATE jobs SET state = 'running', attempt = attempt + 1, locked_by = lpad(to_hex(:t::bigint), 32, '0')::uuid,
                          locked_until = now() + interval '30 seconds'
          WHERE id IN (SELECT id FROM jobs
                       WHERE state = 'queued' AND run_at <= now() AND kind = ANY('{{{Kind}}}'::text[])
                       ORDER BY run_at, id LIMIT {{batch}} FOR UPDATE SKIP LOCKED)
          RETURNING id, kind, payload::text, attempt, max_attempts)
        SELECT coalesce(array_agg(id), '{}')::text AS ids, count(*) AS n FROM claimed \gset
        UPDATE jobs SET state = 'succeeded', finished_at = now(), locked_by = NULL, locked_until = NULL
        FROM unnest(:ids::bigint[], array_fill(lpad(to_hex(:t::bigint), 32, '0')::uuid, ARRAY[:n::int])) AS done(id, token)
        WHERE jobs.id = done.id AND jobs.locked_by = done.token AND jobs.state = 'running';
        """;

    public async Task<BenchRow[]> RunAsync()
    {
        var db = await env.FreshDatabaseAsync("jobs");
        await BenchEnvironment.ExecuteAsync(db, JobsSchema.Sql);
        var s = env.Settings;
        var b1 = await MeasureAsync(db, batch: 1, workers: 8, jobs: s.Scaled(3_000));
        // Workers = 2 × batch: the next claim of 100 can start while the previous 100 wait for their completion UPDATE.
        var b2 = await MeasureAsync(db, batch: 100, workers: 200, jobs: s.Scaled(50_000));
        var dead = await BenchEnvironment.ScalarAsync<long>(db, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'");
        var note = $"pool: Workers={{0}}, BatchSize={{1}}; pgbench -c {Connections} -M prepared; dead tuples at end {dead}";
        return
        [
            new("B1", "queue", "Job queue, one job per claim", b1.Ours, "jobs/s", b1.Reference, $"pgbench claim(1)+complete, {Connections} conns",
                0.70, Better.Higher, "≥ 0.70 ×", string.Format(note, 8, 1)),
            new("B2", "queue", "Job queue, batched claim (100) + batched completion", b2.Ours, "jobs/s", b2.Reference,
                $"pgbench claim(100)+complete, {Connections} conns", 0.70, Better.Higher, "≥ 0.70 ×, and ≥ 5 × B1",
                string.Format(note, 200, 100) + $"; B2 ÷ B1 = {b2.Ours / b1.Ours:0.0} (target ≥ 5)"),
        ];
    }

    private async Task<(double Ours, double Reference)> MeasureAsync(string db, int batch, int workers, int jobs)
    {
        var counter = new HandledCounter();
        using var host = BuildHost(db, batch, workers, counter);
        await host.StartAsync();
        try
        {
            await DrainAsync(db, counter, Math.Max(batch * 10, jobs / 5)); // warm-up: JIT, pool, plans
            var ours = new List<double>();
            var reference = new List<double>();
            for (var run = 0; run < env.Settings.Runs; run++)
            {
                ours.Add(await DrainAsync(db, counter, jobs));
                reference.Add(await PgbenchAsync(db, batch, jobs));
            }
            return (BenchSettings.Median(ours), BenchSettings.Median(reference));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    // Commits n queued jobs in one statement (NOTIFY wakes the pool) and times until the pool has handled all of them
    // and their completions are written.
    private static async Task<double> DrainAsync(string db, HandledCounter counter, int n)
    {
        await BenchEnvironment.ExecuteAsync(db, "TRUNCATE jobs");
        counter.Reset();
        var started = Stopwatch.GetTimestamp();
        await BenchEnvironment.ExecuteAsync(db,
            $"INSERT INTO jobs (kind, payload) SELECT '{Kind}', '{{}}' FROM generate_series(1, {n}); NOTIFY {JobQueue.Channel}");
        var inserted = Stopwatch.GetElapsedTime(started);
        var timeout = Stopwatch.StartNew();
        while (counter.Count < n || await BenchEnvironment.ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'") < n)
        {
            if (timeout.Elapsed > TimeSpan.FromMinutes(3)) throw new TimeoutException($"{counter.Count}/{n} jobs handled after 3 min");
            await Task.Delay(counter.Count < n ? 20 : 2);
        }
        return n / (Stopwatch.GetElapsedTime(started) - inserted).TotalSeconds;
    }

    private async Task<double> PgbenchAsync(string db, int batch, int jobs)
    {
        var perClient = Math.Max(1, jobs / batch / Connections);
        await BenchEnvironment.ExecuteAsync(db, "TRUNCATE jobs");
        // Exactly enough rows: every transaction claims a full batch, so jobs/s = tps × batch.
        await BenchEnvironment.ExecuteAsync(db,
            $"INSERT INTO jobs (kind, payload) SELECT '{Kind}', '{{}}' FROM generate_series(1, {perClient * Connections * batch}); ANALYZE jobs");
        return await Pgbench.RunAsync(env, db, Script(batch), Connections, perClient) * batch;
    }

    private static IHost BuildHost(string db, int batch, int workers, HandledCounter counter)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = $"{workers}",
            ["Jobs:BatchSize"] = $"{batch}",
            ["Jobs:PollIntervalMs"] = "1000",
        });
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(db));
        builder.Services.AddSingleton(counter);
        builder.Services.AddJobs();
        builder.Services.AddJobHandler<NoOpHandler>(Kind);
        return builder.Build();
    }

    internal sealed class HandledCounter
    {
        private long count;
        public long Count => Interlocked.Read(ref count);
        public void Increment() => Interlocked.Increment(ref count);
        public void Reset() => Interlocked.Exchange(ref count, 0);
    }

    // The queue's own cost only: the handler does nothing but count.
    internal sealed class NoOpHandler(HandledCounter counter) : IJobHandler
    {
        public Task HandleAsync(JobContext job, CancellationToken ct)
        {
            counter.Increment();
            return Task.CompletedTask;
        }
    }
}
