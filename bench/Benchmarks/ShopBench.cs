// B5–B9 against the real services, each started from its Release build as its own process (Payment, Inventory,
// Ordering, as the AppHost wires them, one replica each) on fresh bench_* databases, plus the bare reference API
// (this executable in "serve-bare" mode) for B5/B6. Toggles are flipped through Ordering's admin API and waited for
// on every service, like the drills do.
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;

namespace ReliableShop.Benchmarks;

internal sealed class ShopBench(BenchEnvironment env) : IAsyncDisposable
{
    private const string CachePrefix = "bench:catalog:item:";
    private readonly string adminKey = Guid.NewGuid().ToString("N");
    private readonly List<ServiceProcess> processes = [];
    private readonly HttpClient load = new(new SocketsHttpHandler { MaxConnectionsPerServer = 2000, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
    private ServiceProcess payment = null!, inventory = null!, ordering = null!, bare = null!;
    private long orderNumber;

    private BenchSettings S => env.Settings;

    public async Task StartAsync()
    {
        var control = await env.FreshDatabaseAsync("control");
        var rabbit = env.RabbitMq.ToString();
        var (payments, inventories, orders, bareDb) = (await env.FreshDatabaseAsync("payments"), await env.FreshDatabaseAsync("inventory"),
            await env.FreshDatabaseAsync("orders"), await env.FreshDatabaseAsync("bare"));
        // Payment and Inventory start together (each takes seconds of CPU to start), then Ordering, which calls both.
        var starting = new[]
        {
            StartAsync("Payment", new()
            {
                ["ConnectionStrings__payments"] = payments, ["ConnectionStrings__control"] = control,
                // B6 measures our code, not the simulated provider: capacity first unbounded, cut back to the default for B7.
                ["Capacity__Slots"] = "1000", ["Capacity__ServiceTimeMs"] = "0",
            }),
            StartAsync("Inventory", new()
            {
                ["ConnectionStrings__inventory"] = inventories, ["ConnectionStrings__control"] = control,
                ["ConnectionStrings__redis"] = env.Redis, ["ConnectionStrings__messaging"] = rabbit, ["Cache__KeyPrefix"] = CachePrefix,
            }),
        };
        (payment, inventory) = ((await starting[0]), (await starting[1]));
        ordering = await StartAsync("Ordering", new()
        {
            ["ConnectionStrings__orders"] = orders, ["ConnectionStrings__control"] = control, ["ConnectionStrings__messaging"] = rabbit,
            ["Services__Inventory"] = inventory.BaseAddress.ToString().TrimEnd('/'), ["Services__Payment"] = payment.BaseAddress.ToString().TrimEnd('/'),
        });
        await CopySchemaAsync(orders, bareDb);
        var item = await inventory.Client.GetStringAsync("/api/catalog/items/SKU-0001");
        bare = await ServiceProcess.StartAsync(env, "bare-api", typeof(BareApi).Assembly.Location,
            new Dictionary<string, string> { [BareApi.ModeVariable] = "1", [BareApi.DatabaseVariable] = bareDb, [BareApi.ItemVariable] = item },
            adminKey);
        processes.Add(bare);
    }

    /// <summary>B5: catalog item from the Redis cache vs the same JSON from memory; closed loop, 32 callers.</summary>
    public async Task<BenchRow> CatalogAsync()
    {
        var (ours, reference) = await ThroughputAsync(32,
            ct => GetOkAsync(inventory, "/api/catalog/items/SKU-0001", ct), ct => GetOkAsync(bare, "/api/catalog/items/SKU-0001", ct));
        return new("B5", "http", "Catalog read, cache hit", ours.Median, "req/s", reference.Median, "bare minimal API, JSON from memory",
            0.6, Better.Higher, "≥ 0.6 ×", $"closed loop, 32 callers; p99 ours {ours.Last.P99Ms:0.0} ms, bare {reference.Last.P99Ms:0.0} ms");
    }

    /// <summary>B6: POST /api/orders (prices from Inventory, authorize at Payment, one transaction) vs the same INSERTs.</summary>
    public async Task<BenchRow> PlaceOrderAsync()
    {
        var (ours, reference) = await ThroughputAsync(16, ct => PlaceOrderAsync(ordering, ct), ct => PlaceOrderAsync(bare, ct));
        return new("B6", "http", "Place order (2 HTTP hops + 1 transaction)", ours.Median, "req/s", reference.Median,
            "bare minimal API, same INSERTs in one transaction", 0.4, Better.Higher, "≥ 0.4 ×",
            $"closed loop, 16 callers (under Ordering's admission limit of 32); p99 ours {ours.Last.P99Ms:0} ms (SLO 1 s), " +
            $"bare {reference.Last.P99Ms:0} ms; Payment capacity unbounded (1000 slots × 0 ms); failures ours {ours.Last.Failed}");
    }

    /// <summary>B7: C = highest open-loop rate with p99 ≤ 1 s and &lt; 1 % errors (Payment at its default 100 charges/s);
    /// then goodput at 2 × C and 3 × C with overload=contain, and 3 × C with overload=reproduce.</summary>
    public async Task<BenchRow[]> OverloadAsync()
    {
        await payment.PutJsonAsync("/admin/capacity", new { slots = 10, serviceTimeMs = 100 });
        var capacity = await MeasureCapacityAsync();
        var rows = new List<BenchRow>();
        foreach (var (state, factor) in new[] { ("contain", 2), ("contain", 3), ("reproduce", 3) })
        {
            await SetModeAsync("overload", state, null);
            var result = await LoadGenerator.OpenLoopAsync(capacity * factor, S.Measure, ct => PlaceOrderAsync(ordering, ct), TimeSpan.FromSeconds(5));
            await SetModeAsync("overload", "off", null);
            await Task.Delay(TimeSpan.FromSeconds(S.Quick ? 1 : 5)); // let queues drain before the next phase
            rows.Add(new("B7", "overload", $"Goodput at {factor} × C, overload={state}", result.Goodput, "orders/s", capacity, "C (measured)",
                state == "contain" ? 0.9 : 0.3, state == "contain" ? Better.Higher : Better.Lower,
                state == "contain" ? "≥ 0.9 × C" : "naive < 0.3 × C",
                $"offered {capacity * factor:0}/s open loop; 2xx {result.Ok}, within 1 s {result.OkWithinSlo}, failed {result.Failed}, p99 {result.P99Ms:0} ms"));
        }
        return [.. rows];
    }

    /// <summary>B8: Payment failing 100 % (retry-budget outage): Payment attempts ÷ order requests, naive vs budget.</summary>
    public async Task<BenchRow[]> RetryAmplificationAsync()
    {
        var rows = new List<BenchRow>();
        foreach (var state in new[] { "contain", "reproduce" })
        {
            await SetModeAsync("retry-budget", state, new { outageSeconds = 600 });
            await PostAsync(payment, "/admin/stats/reset");
            var before = Interlocked.Read(ref orderNumber);
            var result = await LoadGenerator.OpenLoopAsync(20, S.Measure, ct => PlaceOrderAsync(ordering, ct), TimeSpan.FromSeconds(15));
            var orders = Interlocked.Read(ref orderNumber) - before;
            var stats = await StatsAsync(payment);
            // As the retry-budget drill counts it: attempts Payment received per logical authorize call (first attempts),
            // so a later authorization by the breaker fallback's job counts as a call of its own, not as a retry.
            var (first, retry) = (Read(stats, "payment.requests.byOperation.authorize.first"), Read(stats, "payment.requests.byOperation.authorize.retry"));
            await SetModeAsync("retry-budget", "off", null);
            rows.Add(new("B8", "overload", $"Retry amplification, Payment 100 % failing, retry-budget={state}", first == 0 ? double.NaN : (double)(first + retry) / first,
                "attempts/call", null, "—", state == "contain" ? 1.2 : 3, state == "contain" ? Better.Lower : Better.Higher,
                state == "contain" ? "≤ 1.2" : "naive ≥ 3",
                $"{orders} orders at 20/s: {first} authorize calls + {retry} retries at Payment ({(double)(first + retry) / orders:0.00} per order); order 2xx {result.Ok}"));
        }
        return [.. rows];
    }

    /// <summary>B9: loader executions for 1,000 concurrent reads of one expired key (load-only-bugs: single-flight).</summary>
    public async Task<BenchRow[]> StampedeAsync()
    {
        var rows = new List<BenchRow>();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(env.Redis);
        foreach (var (state, sku) in new[] { ("contain", "SKU-0041"), ("reproduce", "SKU-0042") })
        {
            // A SKU no earlier step read through the item endpoint, per phase: cold in Redis AND in any in-process cache.
            await SetModeAsync("load-only-bugs", state, null);
            await redis.GetDatabase().KeyDeleteAsync(CachePrefix + sku);
            await PostAsync(inventory, "/admin/stats/reset");
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reads = Enumerable.Range(0, 1000).Select(async _ =>
            {
                await go.Task;
                return await GetOkAsync(inventory, $"/api/catalog/items/{sku}", CancellationToken.None);
            }).ToList();
            go.SetResult();
            var ok = (await Task.WhenAll(reads)).Count(r => r);
            var stats = await StatsAsync(inventory);
            await SetModeAsync("load-only-bugs", "off", null);
            var loads = Read(stats, "cache.loads");
            rows.Add(new("B9", "overload", $"Cache stampede: loads for 1,000 concurrent reads of one expired key, load-only-bugs={state}",
                loads, "loads", null, "—", state == "contain" ? 1 : 10, state == "contain" ? Better.Lower : Better.Higher,
                state == "contain" ? "1 per key per process" : "naive ≥ 10", $"{ok}/1000 reads 200; one Inventory process"));
        }
        return [.. rows];
    }

    private async Task<double> MeasureCapacityAsync()
    {
        double[] rates = S.Quick ? [30] : [25, 50, 75, 100, 125, 150];
        var capacity = 0.0;
        foreach (var rate in rates)
        {
            var result = await LoadGenerator.OpenLoopAsync(rate, S.Measure, ct => PlaceOrderAsync(ordering, ct), TimeSpan.FromSeconds(5));
            Console.Error.WriteLine($"[bench]   C search: {rate}/s → goodput {result.Goodput:0.#}/s, p99 {result.P99Ms:0} ms, failed {result.Failed}");
            await Task.Delay(TimeSpan.FromSeconds(S.Quick ? 1 : 3));
            if (result.P99Ms > LoadGenerator.Slo.TotalMilliseconds || result.Failed > result.Sent / 100)
            {
                // Even the lowest rate missed the SLO: C is what it delivered within the SLO.
                if (capacity == 0) capacity = Math.Max(1, result.Goodput);
                break;
            }
            capacity = result.Goodput;
        }
        return capacity;
    }

    // Ours and the reference alternate run by run, so a neighbour's burst of CPU on this shared machine hits both alike.
    private async Task<((double Median, LoadResult Last) Ours, (double Median, LoadResult Last) Reference)> ThroughputAsync(
        int callers, Func<CancellationToken, Task<bool>> ours, Func<CancellationToken, Task<bool>> reference)
    {
        await LoadGenerator.ClosedLoopAsync(callers, S.Warmup, ours);
        await LoadGenerator.ClosedLoopAsync(callers, S.Warmup, reference);
        var (a, b) = (new List<LoadResult>(), new List<LoadResult>());
        for (var run = 0; run < S.Runs; run++)
        {
            a.Add(await LoadGenerator.ClosedLoopAsync(callers, S.Measure, ours));
            b.Add(await LoadGenerator.ClosedLoopAsync(callers, S.Measure, reference));
        }
        return ((BenchSettings.Median(a.Select(r => r.Throughput)), a[^1]), (BenchSettings.Median(b.Select(r => r.Throughput)), b[^1]));
    }

    private async Task<bool> GetOkAsync(ServiceProcess service, string path, CancellationToken ct)
    {
        using var response = await load.GetAsync(new Uri(service.BaseAddress, path), HttpCompletionOption.ResponseContentRead, ct);
        return response.IsSuccessStatusCode;
    }

    private async Task<bool> PlaceOrderAsync(ServiceProcess service, CancellationToken ct)
    {
        var n = Interlocked.Increment(ref orderNumber);
        var body = new { customerId = "bench", items = new[] { new { sku = $"SKU-{n % 60 + 1:0000}", quantity = 1 } } };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(service.BaseAddress, "/api/orders")) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", $"bench-{Guid.NewGuid():N}");
        using var response = await load.SendAsync(request, ct);
        return response.IsSuccessStatusCode;
    }

    private async Task SetModeAsync(string mode, string state, object? parameters)
    {
        await ordering.PutJsonAsync($"/admin/failure-modes/{mode}", parameters is null ? new { state } : new { state, parameters });
        foreach (var service in new[] { ordering, inventory, payment })
        {
            var deadline = DateTimeOffsetNow() + TimeSpan.FromSeconds(30);
            while (await ModeStateAsync(service, mode) != state)
            {
                if (DateTimeOffsetNow() > deadline) throw new TimeoutException($"{mode}={state} not seen on {service.Name} after 30 s");
                await Task.Delay(100);
            }
        }
    }

    private static DateTimeOffset DateTimeOffsetNow() => TimeProvider.System.GetUtcNow();

    private static async Task<string?> ModeStateAsync(ServiceProcess service, string mode)
    {
        using var json = JsonDocument.Parse(await service.Client.GetStringAsync("/admin/failure-modes"));
        return json.RootElement.EnumerateArray().Single(m => m.GetProperty("id").GetString() == mode).GetProperty("state").GetString();
    }

    private static async Task PostAsync(ServiceProcess service, string path)
    {
        using var response = await service.Client.PostAsync(path, null);
        response.EnsureSuccessStatusCode();
    }

    private static async Task<JsonElement> StatsAsync(ServiceProcess service)
    {
        using var json = JsonDocument.Parse(await service.Client.GetStringAsync("/admin/stats"));
        return json.RootElement.Clone();
    }

    private static long Read(JsonElement stats, string path)
    {
        var element = stats;
        foreach (var part in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element)) return 0;
        }
        return element.ValueKind == JsonValueKind.Number ? (long)element.GetDouble() : 0;
    }

    private async Task<ServiceProcess> StartAsync(string service, Dictionary<string, string> environment)
    {
        var process = await ServiceProcess.StartAsync(env, service.ToLowerInvariant(), ServiceProcess.ServiceDll(env, service), environment, adminKey);
        lock (processes) processes.Add(process);
        return process;
    }

    // The bare API writes the same tables: a schema-only copy of Ordering's database after its migrations ran.
    private async Task CopySchemaAsync(string from, string to)
    {
        var source = new Npgsql.NpgsqlConnectionStringBuilder(from);
        var target = new Npgsql.NpgsqlConnectionStringBuilder(to);
        var password = new Dictionary<string, string> { ["PGPASSWORD"] = source.Password ?? "" };
        var file = Path.Combine(env.ArtifactsDir, "orders-schema.sql");
        await File.WriteAllTextAsync(file, await BenchEnvironment.RunToolAsync("pg_dump",
            ["-s", "-O", "-x", "-h", source.Host!, "-p", $"{source.Port}", "-U", source.Username!, source.Database!], password));
        await BenchEnvironment.RunToolAsync("psql",
            ["-q", "-v", "ON_ERROR_STOP=1", "-h", target.Host!, "-p", $"{target.Port}", "-U", target.Username!, "-d", target.Database!, "-f", file], password);
    }

    public async ValueTask DisposeAsync()
    {
        load.Dispose();
        foreach (var process in processes) await process.DisposeAsync();
    }
}
