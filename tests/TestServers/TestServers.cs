// Real servers for tests. Chosen automatically:
//   RELIABLESHOP_POSTGRES / RELIABLESHOP_REDIS / RELIABLESHOP_RABBITMQ set → those servers (infra/local-servers.sh env);
//   otherwise, where Docker runs → Testcontainers (one container per server, per test run).
// There is no in-memory fallback: a test that needs a server fails loudly when none is available.
using System.Diagnostics;
using DotNet.Testcontainers.Containers;
using Npgsql;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;
using Testcontainers.Redis;

namespace ReliableShop.TestServers;

public enum Server { Postgres, Redis, RabbitMq }

public static class Servers
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<Server, IContainer> Containers = [];

    public static bool IsLocal => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RELIABLESHOP_POSTGRES"));

    /// <summary>Server-level PostgreSQL connection string of a role that may CREATE DATABASE.</summary>
    public static Task<string> PostgresAsync() => ConnectionStringAsync(Server.Postgres, "RELIABLESHOP_POSTGRES");

    /// <summary>StackExchange.Redis configuration string (host:port).</summary>
    public static Task<string> RedisAsync() => ConnectionStringAsync(Server.Redis, "RELIABLESHOP_REDIS");

    /// <summary>amqp:// URI of the broker.</summary>
    public static Task<string> RabbitMqAsync() => ConnectionStringAsync(Server.RabbitMq, "RELIABLESHOP_RABBITMQ");

    /// <summary>Creates an empty database with a unique name and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync(string prefix)
    {
        var server = await PostgresAsync();
        var name = $"t_{prefix.ToLowerInvariant()}_{Guid.NewGuid():N}";
        name = name[..Math.Min(40, name.Length)];
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Database = "postgres", Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    /// <summary>Stops a server for real (clients see connection failures) — for outage tests.</summary>
    public static Task StopAsync(Server server) => ControlAsync(server, "stop");

    public static Task StartAsync(Server server) => ControlAsync(server, "start");

    private static async Task ControlAsync(Server server, string verb)
    {
        if (IsLocal)
        {
            var name = server switch { Server.Postgres => "postgres", Server.Redis => "redis", _ => "rabbitmq" };
            await RunAsync(Path.Combine(RepositoryRoot(), "infra", "local-servers.sh"), $"{verb} {name}");
            return;
        }
        var container = Containers[server];
        if (verb == "stop") await container.StopAsync(); else await container.StartAsync();
    }

    private static async Task<string> ConnectionStringAsync(Server server, string variable)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }
        await Gate.WaitAsync();
        try
        {
            if (!Containers.TryGetValue(server, out var container))
            {
                container = server switch
                {
                    Server.Postgres => new PostgreSqlBuilder("postgres:15").Build(),
                    Server.Redis => new RedisBuilder("redis:7").Build(),
                    _ => new RabbitMqBuilder("rabbitmq:3.10-management").Build(),
                };
                try
                {
                    await container.StartAsync();
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException(
                        $"No {server} server: {variable} is not set and Testcontainers could not start one ({e.Message}). " +
                        "Run `eval \"$(infra/local-servers.sh up && infra/local-servers.sh env)\"` first.", e);
                }
                Containers[server] = container;
            }
            return container switch
            {
                PostgreSqlContainer pg => pg.GetConnectionString(),
                RedisContainer redis => redis.GetConnectionString(),
                RabbitMqContainer rabbit => rabbit.GetConnectionString(),
                _ => throw new InvalidOperationException(),
            };
        }
        finally
        {
            Gate.Release();
        }
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ReliableShop.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("ReliableShop.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task RunAsync(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
        }
    }
}
