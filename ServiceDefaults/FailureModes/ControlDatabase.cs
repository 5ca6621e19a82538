// The `control` database holds what is shared by the whole fleet but belongs to no service: the failure-mode states.
// Its own data source (at most 4 connections) keeps toggles working while a service's main pool is exhausted.
using Npgsql;

namespace ReliableShop.FailureModes;

public sealed class ControlDatabase(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public const string ConnectionName = "control";
    public const int MaxPoolSize = 4;

    public NpgsqlDataSource DataSource { get; } = dataSource;

    public static ControlDatabase Create(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxPoolSize = MaxPoolSize,
            Timeout = 5,          // seconds to connect: a flip must fail fast, not hang, when PostgreSQL is down
            CommandTimeout = 5,
        };
        return new(NpgsqlDataSource.Create(builder.ConnectionString));
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
