// Ordering hosted in-process against real PostgreSQL (a fresh database per app) and real RabbitMQ; only the HTTP hop
// to Inventory and Payment is replaced by in-test fakes (the named clients' primary handler), so the resilience
// pipelines, the database guarantees and the job queue under test are the production ones.
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using ReliableShop.Ordering.Clients;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class OrderingApp(string connectionString, string messaging, IReadOnlyDictionary<string, string> settings)
    : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key-0123456789";

    public FakeInventory Inventory { get; } = new();
    public FakePayment Payment { get; } = new();
    public string ConnectionString { get; } = connectionString;
    public CapturedLog Log { get; } = new();

    // Prefix of at least 5 characters: Servers.CreateDatabaseAsync cuts the generated name at [..40].
    public static async Task<OrderingApp> CreateAsync(IReadOnlyDictionary<string, string>? settings = null) =>
        new(await Servers.CreateDatabaseAsync("order"), await Servers.RabbitMqAsync(), settings ?? new Dictionary<string, string>());

    /// <summary>Builds and starts the host (migrations included) and returns a client for it.</summary>
    public HttpClient Start() => CreateClient();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:orders", ConnectionString);
        builder.UseSetting("ConnectionStrings:control", ConnectionString); // failure-mode store, private to the test
        builder.UseSetting("ConnectionStrings:messaging", messaging);
        builder.UseSetting("Admin:Key", AdminKey);
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
        // As the AppHost passes them (service discovery), so the Services section holds child keys beside its values.
        // Not UseSetting: it also passes every parent section as an empty argument ("--services:inventory="), which
        // would blank Services:Inventory from appsettings.json — something the AppHost's environment never does.
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["services:inventory:http:0"] = "http://inventory.test",
            ["services:payment:http:0"] = "http://payment.test",
        }));
        builder.ConfigureLogging(logging => logging.AddProvider(Log));
        builder.ConfigureTestServices(services =>
        {
            foreach (var path in Enum.GetValues<ClientPath>())
            {
                services.AddHttpClient(ClientPaths.ClientName(InventoryClient.Dependency, path)).ConfigurePrimaryHttpMessageHandler(() => Inventory);
                services.AddHttpClient(ClientPaths.ClientName(PaymentClient.Dependency, path)).ConfigurePrimaryHttpMessageHandler(() => Payment);
            }
            // The relay is the Outbox library's subject (Outbox.Tests). Here it would publish test orders to the shared
            // broker, where other test runs' Inventory consumers could reserve stock for them; outbox rows stay pending.
            var relay = services.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Name == "OutboxRelay");
            services.Remove(relay);
        });
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        catch (InvalidOperationException)
        {
            // a host that failed to start (options tests) may fail again while stopping; the database is dropped anyway
        }
        await Db.DropDatabaseAsync(ConnectionString);
    }
}
