// One failure-mode drill against the running system: flip the mode (and wait until every instance runs it), reset
// and read /admin/stats on every instance, and record what each phase measured — to the test output and to
// artifacts/drills/<report>.txt (the mode's id unless told), the file a doc page quotes its numbers from.
using System.Net.Http.Json;
using System.Text.Json;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

public sealed class Drill(SystemFixture system, string mode, ITestOutputHelper output, string? report = null)
{
    // The 2 s a flip takes to reach every replica is FailureModeToggleTests' guarantee, on a system at rest. A drill
    // flips right after a phase that drove the system into collapse on purpose (requests still draining, a replica's
    // threads and PostgreSQL busy): reaching every replica is waited for longer there, and a flip that took longer
    // than 2 s is recorded in the report rather than failing the drill it did not measure.
    private static readonly TimeSpan Propagation = TimeSpan.FromSeconds(10), PromisedPropagation = TimeSpan.FromSeconds(2);
    private readonly List<string> lines = [];

    public string Mode => mode;
    public SystemFixture System => system;

    /// <summary>Sets the mode's state (and parameters) through the admin API, then waits until every instance runs it.</summary>
    public async Task SetAsync(string state, object? parameters, CancellationToken ct)
    {
        using var response = await system.Ordering.PutAsJsonAsync($"/admin/failure-modes/{mode}",
            parameters is null ? new { state } : (object)new { state, parameters }, ct);
        Assert.True(response.IsSuccessStatusCode, $"PUT {mode} {state} → {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        var flipped = TimeProvider.System.GetTimestamp();
        await ForEveryInstanceAsync(async (client, instance) =>
        {
            await Eventually.WaitAsync(async () => await StateAsync(client, ct), s => s == state, Propagation,
                $"{mode}={state} on {instance.Service} pid {instance.ProcessId}");
        });
        var took = TimeProvider.System.GetElapsedTime(flipped);
        Record($"-- {mode} → {state}" + (parameters is null ? "" : " " + JsonSerializer.Serialize(parameters))
               + (took > PromisedPropagation ? $" (every replica after {took.TotalSeconds:0.0} s)" : ""));
    }

    public Task SetAsync(string state, CancellationToken ct) => SetAsync(state, null, ct);

    /// <summary>Every mode back to off (the drill's last step, and its cleanup when an assertion failed).</summary>
    public async Task ResetModesAsync(CancellationToken ct)
    {
        using var response = await system.Ordering.PostAsync("/admin/failure-modes/reset", null, ct);
        response.EnsureSuccessStatusCode();
        await ForEveryInstanceAsync(async (client, instance) =>
            await Eventually.WaitAsync(async () => await StateAsync(client, ct), s => s == "off", Propagation,
                $"{mode}=off on {instance.Service} pid {instance.ProcessId}"));
    }

    /// <summary>Zeroes /admin/stats on every instance, so the next read covers one phase only.</summary>
    public Task ResetStatsAsync(CancellationToken ct) =>
        ForEveryInstanceAsync(async (client, _) => (await client.PostAsync("/admin/stats/reset", null, ct)).EnsureSuccessStatusCode());

    /// <summary>/admin/stats of every instance of <paramref name="service"/> ("ordering", "inventory", "payment").</summary>
    public async Task<IReadOnlyList<JsonElement>> StatsAsync(string service, CancellationToken ct)
    {
        var stats = new List<JsonElement>();
        await ForEveryInstanceAsync(async (client, instance) =>
        {
            if (instance.Service != service) return;
            using var json = JsonDocument.Parse(await client.GetStringAsync("/admin/stats", ct));
            lock (stats) stats.Add(json.RootElement.Clone());
        });
        return stats;
    }

    /// <summary>A number summed over every instance of <paramref name="service"/>, e.g. Sum("ordering", "ordering.dependencies.payment.attempts").</summary>
    public async Task<long> SumAsync(string service, string path, CancellationToken ct) =>
        (await StatsAsync(service, ct)).Sum(s => Read(s, path));

    /// <summary>The value at a dotted path of a stats document; 0 when a section has not counted anything yet.</summary>
    public static long Read(JsonElement stats, string path)
    {
        var element = stats;
        foreach (var part in path.Split('.'))
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element)) return 0;
        }
        return element.ValueKind == JsonValueKind.Number ? (long)element.GetDouble() : 0;
    }

    /// <summary>
    /// Between phases: Payment finishes the abandoned work a naive phase left queued (ignored cancellation), fast — its
    /// slots are raised for the drain, then set back — so the next phase starts from an idle Payment.
    /// </summary>
    public async Task DrainPaymentAsync(CancellationToken ct)
    {
        // Restore the CONFIGURED slots: the current ones may be a fault's override (retry-storm's cut), and writing
        // those back would make the fault permanent. The service time is not touched.
        using var before = JsonDocument.Parse(await system.Payment.GetStringAsync("/admin/capacity", ct));
        var slots = before.RootElement.GetProperty("configured").GetProperty("slots").GetInt32();
        (await system.Payment.PutAsJsonAsync("/admin/capacity", new { slots = 1000 }, ct)).EnsureSuccessStatusCode();
        try
        {
            await Eventually.WaitAsync(() => PaymentQueuedAsync(ct), queued => queued == 0, TimeSpan.FromSeconds(60),
                "Payment's queue empty (abandoned work drained)");
        }
        finally
        {
            (await system.Payment.PutAsJsonAsync("/admin/capacity", new { slots }, ct)).EnsureSuccessStatusCode();
        }
    }

    /// <summary>Charges waiting for one of Payment's slots now (GET /admin/capacity).</summary>
    public async Task<int> PaymentQueuedAsync(CancellationToken ct)
    {
        using var state = JsonDocument.Parse(await system.Payment.GetStringAsync("/admin/capacity", ct));
        return state.RootElement.GetProperty("queued").GetInt32();
    }

    /// <summary>
    /// The system at rest: every order (PaymentPending ones included) settled and the invariants zero. Between phases, so
    /// one phase's backlog (reservations, captures, deferred authorizations) is not the next one's load. Waited for up
    /// to 6 minutes: deferred authorizations start at Jobs:KindRatePerSecond (3 a second per replica), and the
    /// retry-budget drill leaves ~900 PaymentPending orders — 150 s at that pace, found past the 3 minutes this was.
    /// </summary>
    public Task<InvariantReport> SettledAsync(CancellationToken ct) => Eventually.WaitAsync(() => Invariants.CheckAsync(system, ct),
        r => r.AllZero, TimeSpan.FromMinutes(6), "every order (PaymentPending ones included) settled, invariants zero");

    /// <summary>Writes one measured line to the test output and to artifacts/drills/&lt;report&gt;.txt.</summary>
    public void Record(string line)
    {
        output.WriteLine(line);
        lines.Add(line);
        var directory = Path.Combine(Servers.RepositoryRoot(), "artifacts", "drills");
        global::System.IO.Directory.CreateDirectory(directory);
        File.WriteAllLines(Path.Combine(directory, $"{report ?? mode}.txt"),
            [$"# {mode} drill, {DateTimeOffset.Now:yyyy-MM-dd HH:mm zzz}, {Environment.ProcessorCount} cores", .. lines]);
    }

    public void Record(LoadReport report) => Record(report.ToString());

    public async Task ForEveryInstanceAsync(Func<HttpClient, ServiceInstance, Task> action)
    {
        var instances = ServiceInstances.Find(system.DatabasePrefix);
        Assert.Equal(2 + SystemFixture.OrderingReplicas, instances.Count);
        await Task.WhenAll(instances.Select(async instance =>
        {
            using var client = new HttpClient { BaseAddress = instance.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            client.DefaultRequestHeaders.Add("X-Admin-Key", system.AdminKey);
            await action(client, instance);
        }));
    }

    private async Task<string?> StateAsync(HttpClient client, CancellationToken ct)
    {
        using var json = JsonDocument.Parse(await client.GetStringAsync("/admin/failure-modes", ct));
        return json.RootElement.EnumerateArray().Single(m => m.GetProperty("id").GetString() == mode).GetProperty("state").GetString();
    }
}
