// B10: StackExchange.Redis GETs from 50 concurrent callers over ONE multiplexer (how Inventory uses it), beside
// redis-benchmark -t get -c 50 on the same server. Both GET the same key ("key:__rand_int__", redis-benchmark's
// key without -r), holding the same 3-byte value.
using System.Globalization;
using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace ReliableShop.Benchmarks;

internal sealed partial class RedisBench(BenchEnvironment env)
{
    private const string Key = "key:__rand_int__";

    public async Task<BenchRow> RunAsync()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(env.Redis);
        var db = redis.GetDatabase();
        await db.StringSetAsync(Key, "xxx");
        Task<bool> Get(CancellationToken _) => db.StringGetAsync(Key).ContinueWith(t => t.Result.HasValue, TaskScheduler.Default);
        await LoadGenerator.ClosedLoopAsync(50, env.Settings.Warmup, Get);
        var ours = new List<double>();
        var reference = new List<double>();
        for (var run = 0; run < env.Settings.Runs; run++)
        {
            ours.Add((await LoadGenerator.ClosedLoopAsync(50, env.Settings.Measure, Get)).Throughput);
            reference.Add(await RedisBenchmarkAsync());
        }
        return new("B10", "http", "Redis client overhead (GET, 50 callers, one multiplexer)", BenchSettings.Median(ours), "GET/s",
            BenchSettings.Median(reference), "redis-benchmark -t get -c 50", 0.5, Better.Higher, "≥ 0.5 ×",
            "one multiplexer pipelines all 50 callers over one socket; redis-benchmark opens 50 connections");
    }

    private async Task<double> RedisBenchmarkAsync()
    {
        var (host, port) = (env.Redis.Split(':')[0], env.Redis.Split(':').ElementAtOrDefault(1) ?? "6379");
        var requests = env.Settings.Quick ? 20_000 : 200_000;
        var output = await BenchEnvironment.RunToolAsync("redis-benchmark", ["-h", host, "-p", port, "-t", "get", "-c", "50", "-n", $"{requests}", "-q"]);
        var match = Rate().Match(output);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException("redis-benchmark printed no rate: " + output);
    }

    [GeneratedRegex(@"GET: ([0-9.]+) requests per second")]
    private static partial Regex Rate();
}
