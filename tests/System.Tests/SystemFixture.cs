// The whole ReliableShop system started once per test collection through Aspire.Hosting.Testing, against the same
// real servers the tests use (local ones by RELIABLESHOP_* variables, or Aspire's containers where Docker runs).
// Each run gets fresh databases (a per-run prefix), so runs never see each other's orders.
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests;

public sealed class SystemFixture : IAsyncLifetime
{
    public const int OrderingReplicas = 2;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    public DistributedApplication App { get; private set; } = null!;
    public HttpClient Ordering { get; private set; } = null!;
    public HttpClient Inventory { get; private set; } = null!;
    public HttpClient Payment { get; private set; } = null!;
    public string AdminKey { get; } = "systest-" + Guid.NewGuid().ToString("N");
    /// <summary>This run's databases are "&lt;prefix&gt;orders" etc.; infra/local-servers.sh drop-test-databases removes them.</summary>
    public string DatabasePrefix { get; } = $"st{Guid.NewGuid():N}"[..10] + "_";
    public NpgsqlDataSource Orders { get; private set; } = null!;
    public NpgsqlDataSource InventoryDb { get; private set; } = null!;
    public NpgsqlDataSource Payments { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(StartTimeout);
        var prefix = DatabasePrefix;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AppHost>(
        [
            $"ReliableShop:DatabasePrefix={prefix}",
            $"ReliableShop:OrderingReplicas={OrderingReplicas}",
            $"Parameters:admin-key={AdminKey}",
        ], timeout.Token);
        // Short leases so a killed replica's claims are taken over within seconds, not the production 30 s.
        foreach (var project in builder.Resources.OfType<ProjectResource>())
        {
            builder.CreateResourceBuilder(project)
                .WithEnvironment("Outbox__LeaseSeconds", "5")
                .WithEnvironment("Outbox__PublishTimeoutMs", "2000")
                .WithEnvironment("Jobs__LeaseSeconds", "5")
                .WithEnvironment("Jobs__ReaperIntervalSeconds", "1")
                // No dashboard runs under Aspire.Hosting.Testing, yet the services are told to export OTLP to it: every
                // export fails and is retried in memory, CPU the drills would measure as the system's own. The tests
                // read their KPIs from /admin/stats; without an endpoint ServiceDefaults adds no exporter.
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }
        App = await builder.BuildAsync(timeout.Token);
        ResourceLogs.CopyToFiles(App, stopLogs.Token);
        await App.StartAsync(timeout.Token);
        foreach (var name in new[] { "payment", "inventory", "ordering" })
        {
            await App.ResourceNotifications.WaitForResourceHealthyAsync(name, timeout.Token);
        }
        await WaitForEveryInstanceAsync(timeout.Token);
        Ordering = App.CreateHttpClient("ordering");
        Inventory = App.CreateHttpClient("inventory");
        Payment = App.CreateHttpClient("payment");
        foreach (var client in new[] { Ordering, Inventory, Payment }) client.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        Orders = NpgsqlDataSource.Create((await App.GetConnectionStringAsync("orders-db", timeout.Token))!);
        InventoryDb = NpgsqlDataSource.Create((await App.GetConnectionStringAsync("inventory-db", timeout.Token))!);
        Payments = NpgsqlDataSource.Create((await App.GetConnectionStringAsync("payments-db", timeout.Token))!);
    }

    private readonly CancellationTokenSource stopLogs = new();

    public async ValueTask DisposeAsync()
    {
        await stopLogs.CancelAsync();
        Ordering?.Dispose();
        Inventory?.Dispose();
        Payment?.Dispose();
        if (Orders is not null) await Orders.DisposeAsync();
        if (InventoryDb is not null) await InventoryDb.DisposeAsync();
        if (Payments is not null) await Payments.DisposeAsync();
        if (App is not null) await App.DisposeAsync();
    }

    // The resource-level wait does not cover each replica: also wait until every instance answers /health.
    public async Task WaitForEveryInstanceAsync(CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.WaitAsync(async () =>
        {
            var instances = ServiceInstances.Find(DatabasePrefix);
            var healthy = 0;
            foreach (var instance in instances)
            {
                try
                {
                    using var response = await http.GetAsync(new Uri(instance.BaseAddress, "/health"), ct);
                    if (response.IsSuccessStatusCode) healthy++;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // not listening yet, or too busy to answer within 5 s: asked again on the next round
                }
            }
            return healthy;
        }, healthy => healthy == 2 + OrderingReplicas, StartTimeout, "every service instance healthy");
    }

    /// <summary>Kills one instance of <paramref name="service"/> (SIGKILL: no graceful shutdown) and starts it again.</summary>
    public async Task KillAndRestartAsync(string service, CancellationToken ct)
    {
        var victim = ServiceInstances.Find(DatabasePrefix).First(i => i.Service == service);
        global::System.Diagnostics.Process.GetProcessById(victim.ProcessId).Kill(entireProcessTree: true);
        await RestartKilledReplicaAsync(service, ct);
    }

    /// <summary>Starts again the instance of <paramref name="service"/> whose process was killed, and waits until it serves.</summary>
    public async Task RestartKilledReplicaAsync(string service, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(StartTimeout);
        // The killed instance is the one no longer running (DCP does not restart it by itself).
        var replica = await Eventually.WaitAsync(() => Task.FromResult(StoppedInstance(service)),
            id => id is not null, TimeSpan.FromSeconds(30), $"the killed {service} instance reported as stopped");
        var result = await App.ResourceCommands.ExecuteCommandAsync(replica!, KnownResourceCommands.StartCommand, timeout.Token);
        Assert.True(result.Success, $"start {replica}: {result.Message}");
        await WaitForEveryInstanceAsync(timeout.Token);
    }

    private static string? StoppedInstance(string service) =>
        ResourceLogs.Latest.Values
            .Where(e => e.Resource.Name == service && e.Snapshot.State?.Text is "Exited" or "Finished" or "FailedToStart")
            .Select(e => e.ResourceId)
            .FirstOrDefault();

    public HttpClient Client(string service) => service switch
    {
        "ordering" => Ordering,
        "inventory" => Inventory,
        _ => Payment,
    };

    public async Task SetStockAsync(string sku, int available, CancellationToken ct)
    {
        var response = await Inventory.PutAsJsonAsync($"/admin/catalog/items/{sku}", new { available }, ct);
        response.EnsureSuccessStatusCode();
    }
}

[CollectionDefinition(Name)]
public sealed class SystemCollection : ICollectionFixture<SystemFixture>
{
    public const string Name = "system";
}
