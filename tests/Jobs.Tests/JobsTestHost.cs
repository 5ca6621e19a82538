// Test harness: a fresh PostgreSQL database with the real jobs schema, and hosts ("replicas") running the real worker
// pool, reaper and cleanup against it. Small leases and delays keep the tests fast; every wait has a timeout.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.Jobs.Tests;

internal static class JobsTestHost
{
    // Every handler run is a row here — no unique constraint, so a duplicate run is counted, not hidden.
    private const string ExecutionsSql = """
        CREATE TABLE executions (job_id bigint NOT NULL, attempt int NOT NULL, replica text NOT NULL);
        """;

    private static readonly Dictionary<string, string> Fast = new()
    {
        ["Workers"] = "4", ["BatchSize"] = "10", ["LeaseSeconds"] = "2", ["PollIntervalMs"] = "100",
        ["RetryBaseDelayMs"] = "10", ["RetryMaxDelayMs"] = "50", ["ReaperIntervalSeconds"] = "1", ["MaxAttempts"] = "3",
    };

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<string> CreateDatabaseAsync()
    {
        var connectionString = await Servers.CreateDatabaseAsync("jobs_test"); // ≥ 6 chars: the name is cut to 40
        await ExecuteAsync(connectionString, JobsSchema.Sql + ExecutionsSql);
        return connectionString;
    }

    /// <summary>Builds a host with AddJobs(); <paramref name="settings"/> override the fast defaults ("Key=Value").</summary>
    public static IHost Build(string connectionString, string replica, Action<IServiceCollection> handlers, params string[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        var config = Fast.ToDictionary(kv => $"Jobs:{kv.Key}", kv => (string?)kv.Value);
        foreach (var setting in settings)
        {
            var (key, value) = (setting.Split('=')[0], setting.Split('=')[1]);
            config[$"Jobs:{key}"] = value;
        }
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        builder.Services.AddSingleton(new Replica(replica));
        builder.Services.AddSingleton<ConcurrencyProbe>();
        builder.Services.AddJobs();
        handlers(builder.Services);
        return builder.Build();
    }

    public static async Task<IHost> StartAsync(string connectionString, string replica, Action<IServiceCollection> handlers, params string[] settings)
    {
        var host = Build(connectionString, replica, handlers, settings);
        await host.StartAsync(Ct);
        return host;
    }

    public static async Task<long?> EnqueueAsync(string connectionString, string kind, string payload = "{}", string? uniqueKey = null, bool commit = true)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var id = await JobQueue.EnqueueAsync(connection, transaction, kind, payload, uniqueKey, ct: Ct);
        if (commit)
        {
            await transaction.CommitAsync(Ct);
        }
        else
        {
            await transaction.RollbackAsync(Ct);
        }
        return id;
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(Ct))!;
    }

    public static Task<string?> StateAsync(string connectionString, long id) =>
        ScalarAsync<string?>(connectionString, $"SELECT coalesce((SELECT state FROM jobs WHERE id = {id}), 'missing')");

    public static Task WaitForStateAsync(string connectionString, long id, string state, int seconds = 10) =>
        Eventually.WaitAsync(() => StateAsync(connectionString, id), s => s == state, TimeSpan.FromSeconds(seconds), $"job {id} {state}");
}

internal sealed record Replica(string Name);

/// <summary>Handlers running right now in one host, and the most ever seen at once.</summary>
internal sealed class ConcurrencyProbe
{
    private int current;
    private int max;

    public int Max => Volatile.Read(ref max);

    public IDisposable Enter()
    {
        var now = Interlocked.Increment(ref current);
        for (var seen = max; now > seen; seen = max)
        {
            Interlocked.CompareExchange(ref max, now, seen);
        }
        return new Exit(this);
    }

    private sealed class Exit(ConcurrencyProbe probe) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref probe.current);
    }
}
