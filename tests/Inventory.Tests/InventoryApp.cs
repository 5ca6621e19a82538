// The Inventory service in-process (WebApplicationFactory) against its own PostgreSQL database, the shared Redis under
// a key prefix of its own (never FLUSHALL: other tests share the server), and MassTransit's in-memory test harness in
// place of RabbitMQ, so this host never consumes from, nor publishes to, the queues other test runs use.
using System.Diagnostics.Metrics;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ReliableShop.TestServers;
using StackExchange.Redis;

namespace ReliableShop.Inventory.Tests;

public sealed class InventoryApp(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key-0123456789";

    public string ConnectionString => settings["ConnectionStrings:inventory"]!;

    public string KeyPrefix => settings["Cache:KeyPrefix"]!;

    /// <summary>True: the host keeps RabbitMQ (the test vhost) instead of the in-memory bus, for a guarantee that is the
    /// broker's (prefetch). Give it a queue of its own (Reservations:QueueName).</summary>
    public bool OnBroker { get; private init; }

    public static Task<InventoryApp> CreateAsync(params (string Key, string? Value)[] overrides) => CreateAsync(poolWait: null, overrides);

    /// <param name="poolWait">Npgsql's wait for a pooled connection (Timeout; 15 s by default), for a test that queues
    /// hundreds of transactions behind one row lock on purpose.</param>
    public static Task<InventoryApp> CreateAsync(TimeSpan? poolWait, params (string Key, string? Value)[] overrides) =>
        CreateAsync(poolWait, maxPoolSize: null, onBroker: false, overrides);

    /// <summary>A host on the real broker, with an Npgsql pool of <paramref name="maxPoolSize"/> connections.</summary>
    public static Task<InventoryApp> CreateOnBrokerAsync(int maxPoolSize, params (string Key, string? Value)[] overrides) =>
        CreateAsync(poolWait: null, maxPoolSize, onBroker: true, overrides);

    private static async Task<InventoryApp> CreateAsync(
        TimeSpan? poolWait, int? maxPoolSize, bool onBroker, (string Key, string? Value)[] overrides)
    {
        var database = new NpgsqlConnectionStringBuilder(await Servers.CreateDatabaseAsync("inventory"));
        if (poolWait is { } wait) database.Timeout = (int)wait.TotalSeconds;
        if (maxPoolSize is { } size) database.MaxPoolSize = size;
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:inventory"] = database.ConnectionString,
            ["ConnectionStrings:redis"] = await Servers.RedisAsync(),
            ["ConnectionStrings:messaging"] = await Servers.RabbitMqAsync(),
            ["Admin:Key"] = AdminKey,
            ["Cache:KeyPrefix"] = $"test:{Guid.NewGuid():N}:catalog:item:",
            ["Outbox:PollIntervalMs"] = "200",
        };
        settings["ConnectionStrings:control"] = settings["ConnectionStrings:inventory"]; // failure-mode store, private to the test
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }
        return new InventoryApp(settings) { OnBroker = onBroker };
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
        // Keeps the registered consumers (and their definitions) but swaps RabbitMQ for an in-memory bus — started
        // before the host is: the in-memory transport binds a queue to its exchange when the endpoint starts, and a
        // message published before that is dropped (a CI run lost the first of two OrderPlaced deliveries that way).
        if (!OnBroker)
        {
            builder.ConfigureTestServices(services => services.AddMassTransitTestHarness()
                .Configure<MassTransitHostOptions>(o => o.WaitUntilStarted = true));
        }
        // On the broker, the host publishes nothing: its outbox relay would send StockReserved for the test's orders
        // into the shared test vhost, where a later run's Ordering could meet them.
        else builder.ConfigureTestServices(services => services.Remove(
            services.Single(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType?.Name == "OutboxRelay")));
    }

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        return client;
    }

    public async Task<T?> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.AddWithValue(parameter);
        }
        var value = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task ExecuteAsync(string sql, params object[] parameters) => ScalarAsync<object>(sql, parameters);

    /// <summary>Direct access to this host's cache entries in the shared Redis (same server, this host's prefix).</summary>
    public IDatabase Redis => Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();

    /// <summary>A listener for this host's instruments only (other hosts in the test run have their own meter factory).</summary>
    public MeterListener Listen(Action<MeterListener> configure) => Services.ListenToHost(configure);
}

/// <summary>One Inventory host (own database, own key prefix) per test class: classes run in parallel, a class's tests in sequence.</summary>
public sealed class SharedInventoryApp : IAsyncLifetime
{
    public InventoryApp App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        App = await InventoryApp.CreateAsync();
        Client = App.CreateClient();
    }

    public async ValueTask DisposeAsync() => await App.DisposeAsync();
}

/// <summary>Counts this host's cache counters by instrument name.</summary>
public sealed class CacheCounters : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> counts = new();
    private readonly MeterListener listener;

    public CacheCounters(InventoryApp app) =>
        listener = app.Listen(l => l.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            counts.AddOrUpdate(instrument.Name, value, (_, total) => total + value)));

    public long this[string name] => counts.GetValueOrDefault(name);

    public void Dispose() => listener.Dispose();
}
