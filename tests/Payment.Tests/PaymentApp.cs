// The Payment service in-process (WebApplicationFactory) against a fresh PostgreSQL database of its own.
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.Payment.Tests;

public sealed class PaymentApp(IReadOnlyDictionary<string, string?> settings) : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-admin-key-0123456789";

    private Action<IServiceCollection> testServices = _ => { };

    public string ConnectionString => settings["ConnectionStrings:payments"]!;

    /// <summary>Replaces services (a FakeTimeProvider, a seeded Random) before the host is built; call before first use.</summary>
    public PaymentApp WithServices(Action<IServiceCollection> configure)
    {
        testServices += configure;
        return this;
    }

    /// <summary>A client that sends the admin key on every request (harmless on the public routes).</summary>
    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        return client;
    }

    /// <summary>A Payment host with its own database; <paramref name="overrides"/> win over the test defaults.</summary>
    public static async Task<PaymentApp> CreateAsync(params (string Key, string? Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:payments"] = await Servers.CreateDatabaseAsync("payment"),
            ["Admin:Key"] = AdminKey,
            ["Capacity:ServiceTimeMs"] = "5",
        };
        settings["ConnectionStrings:control"] = settings["ConnectionStrings:payments"]; // failure-mode store, private to the test
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }
        return new PaymentApp(settings);
    }

    /// <summary>
    /// Runs the real entry point (Production environment, settings as command-line arguments) and returns the exception
    /// that stopped it. Not WebApplicationFactory: when a host fails to start, the factory sometimes reports an
    /// ObjectDisposedException of its own instead of the startup error.
    /// </summary>
    public static async Task<Exception> RunProgramExpectingFailureAsync(params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings:payments"] = await Servers.CreateDatabaseAsync("payment"),
            ["Admin:Key"] = AdminKey,
            ["urls"] = "http://127.0.0.1:0",
        };
        settings["ConnectionStrings:control"] = settings["ConnectionStrings:payments"];
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }
        string[] args = [.. settings.Select(s => $"--{s.Key}={s.Value}")];
        var run = Task.Run(() => typeof(Program).Assembly.EntryPoint!.Invoke(null, [args]));
        var error = await Record.ExceptionAsync(() => run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.NotNull(error); // a TimeoutException here means the host started although it should not have
        return error is System.Reflection.TargetInvocationException { InnerException: { } inner } ? inner : error;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureTestServices(services => testServices(services));
    }

    public async Task<long> CountAsync(string sql, object? parameter = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null)
        {
            command.Parameters.AddWithValue(parameter);
        }
        return Convert.ToInt64(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    /// <summary>A listener for this host's instruments only (other hosts in the test run have their own meter factory).</summary>
    public MeterListener Listen(Action<MeterListener> configure) => Services.ListenToHost(configure);
}

/// <summary>One Payment host shared by the tests that do not change its options; each test uses its own keys and orders.</summary>
public sealed class SharedPaymentApp : IAsyncLifetime
{
    public PaymentApp App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        App = await PaymentApp.CreateAsync();
        Client = App.CreateClient();
    }

    public async ValueTask DisposeAsync() => await App.DisposeAsync();
}

public static class PaymentRequests
{
    public static HttpRequestMessage Authorize(string? key, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments/authorizations") { Content = JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }
        return request;
    }

    public static object Body(Guid orderId, decimal amount = 12.34m, string currency = "EUR") =>
        new { orderId, amount, currency };

    public static string NewKey() => "key-" + Guid.NewGuid().ToString("N");
}

public sealed record AuthorizationDto(Guid Id, Guid OrderId, decimal Amount, string Currency, string Status, DateTime CreatedAt);
