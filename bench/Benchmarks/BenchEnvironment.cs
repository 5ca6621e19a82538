// Where the benchmarks run: the servers of infra/local-servers.sh (RELIABLESHOP_* variables, else its defaults), one
// database per benchmark (bench_*, recreated each run) and the RabbitMQ vhost "reliableshop-bench", so a benchmark
// never shares tables, cache keys or queues with a test run or a running AppHost.
using System.Diagnostics;
using Npgsql;

namespace ReliableShop.Benchmarks;

internal sealed class BenchEnvironment
{
    public const string BenchVhost = "reliableshop-bench";

    public BenchEnvironment(BenchSettings settings)
    {
        Settings = settings;
        Postgres = Variable("RELIABLESHOP_POSTGRES", "Host=127.0.0.1;Port=5432;Username=reliableshop;Password=reliableshop-local");
        Redis = Variable("RELIABLESHOP_REDIS", "127.0.0.1:6379");
        var rabbit = new UriBuilder(Variable("RELIABLESHOP_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")) { Path = "/" + BenchVhost };
        RabbitMq = rabbit.Uri;
        RepositoryRoot = FindRoot();
    }

    public BenchSettings Settings { get; }
    public string Postgres { get; }
    public string Redis { get; }
    public Uri RabbitMq { get; }
    public string RepositoryRoot { get; }
    public string ArtifactsDir => Directory.CreateDirectory(Path.Combine(RepositoryRoot, "artifacts", "bench")).FullName;

    public string Database(string name) => new NpgsqlConnectionStringBuilder(Postgres) { Database = "bench_" + name }.ConnectionString;

    /// <summary>Drops and creates bench_<paramref name="name"/>; returns its connection string.</summary>
    public async Task<string> FreshDatabaseAsync(string name)
    {
        await using (var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Postgres) { Database = "postgres", Pooling = false }.ConnectionString))
        {
            await admin.OpenAsync();
            await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS bench_{name} WITH (FORCE)");
            await ExecuteAsync(admin, $"CREATE DATABASE bench_{name}");
        }
        return Database(name);
    }

    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 300 };
        await command.ExecuteNonQueryAsync();
    }

    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, sql);
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 300 };
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>synchronous_commit, shared_buffers, max_connections: the settings every figure depends on.</summary>
    public async Task<string> PostgresSettingsAsync()
    {
        var server = new NpgsqlConnectionStringBuilder(Postgres) { Database = "postgres" }.ConnectionString;
        var parts = new List<string>();
        foreach (var setting in new[] { "server_version", "synchronous_commit", "shared_buffers", "max_connections", "fsync" })
        {
            parts.Add($"{setting}={await ScalarAsync<string>(server, $"SHOW {setting}")}");
        }
        return string.Join(", ", parts);
    }

    /// <summary>Runs a tool to completion; returns its standard output (throws with stderr on a non-zero exit).</summary>
    public static async Task<string> RunToolAsync(string file, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}: {await stderr}");
        }
        return await stdout;
    }

    private static string Variable(string name, string fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : fallback;

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ReliableShop.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("ReliableShop.sln not found above " + AppContext.BaseDirectory);
    }
}
