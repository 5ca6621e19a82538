// Schema migrations that are safe when several replicas start at once: one session-level advisory lock per database
// serialises them, and each script runs once, recorded in schema_migrations inside the same transaction.
// The database itself is created when missing (locally installed servers; Aspire's containers create their own).
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>One migration script; <paramref name="Id"/> orders them and is recorded once applied.</summary>
public sealed record SchemaMigration(string Id, string Sql);

public static class DatabaseMigrationExtensions
{
    /// <summary>Runs <paramref name="migrations"/> against the registered <see cref="NpgsqlDataSource"/> before the host starts serving.</summary>
    public static IServiceCollection AddDatabaseMigrations(this IServiceCollection services, params SchemaMigration[] migrations)
    {
        services.AddHostedService(sp => new DatabaseMigrator(
            sp.GetRequiredService<NpgsqlDataSource>(), migrations, sp.GetRequiredService<ILogger<DatabaseMigrator>>()));
        return services;
    }
}

public sealed class DatabaseMigrator(NpgsqlDataSource dataSource, IReadOnlyList<SchemaMigration> migrations, ILogger<DatabaseMigrator> logger)
    : IHostedService
{
    private const long LockKey = 0x5245_4c53_484f_50; // "RELSHOP": same key in every service; locks are per database.

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // NpgsqlDataSource.ConnectionString omits the password: clone a connection of the data source instead, which
        // keeps its credentials while pointing at the maintenance database.
        await using var template = dataSource.CreateConnection();
        await EnsureDatabaseExistsAsync(template.ConnectionString, cancellationToken, template.CloneWith);
        await MigrateAsync(dataSource, migrations, logger, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public static async Task MigrateAsync(NpgsqlDataSource dataSource, IReadOnlyList<SchemaMigration> migrations, ILogger logger, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({LockKey})", ct);
        try
        {
            await ExecuteAsync(connection, null,
                "CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", ct);
            foreach (var migration in migrations)
            {
                await using var tx = await connection.BeginTransactionAsync(ct);
                await using var insert = new NpgsqlCommand(
                    "INSERT INTO schema_migrations (id) VALUES ($1) ON CONFLICT DO NOTHING", connection, tx);
                insert.Parameters.AddWithValue(migration.Id);
                if (await insert.ExecuteNonQueryAsync(ct) == 0)
                {
                    continue; // applied before, by this or another replica
                }
                await ExecuteAsync(connection, tx, migration.Sql, ct);
                await tx.CommitAsync(ct);
                logger.LogInformation("Applied migration {MigrationId} to {Database}", migration.Id, connection.Database);
            }
        }
        finally
        {
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({LockKey})", CancellationToken.None);
        }
    }

    public static async Task EnsureDatabaseExistsAsync(string connectionString, CancellationToken ct, Func<string, NpgsqlConnection>? connect = null)
    {
        var target = new NpgsqlConnectionStringBuilder(connectionString);
        var database = target.Database ?? throw new InvalidOperationException("The connection string names no Database.");
        var maintenance = new NpgsqlConnectionStringBuilder(connectionString) { Database = "postgres", Pooling = false };
        await using var connection = connect?.Invoke(maintenance.ConnectionString) ?? new NpgsqlConnection(maintenance.ConnectionString);
        await connection.OpenAsync(ct);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
        exists.Parameters.AddWithValue(database);
        if (await exists.ExecuteScalarAsync(ct) is not null)
        {
            return;
        }
        try
        {
            await ExecuteAsync(connection, null, $"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", ct);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // another replica created it between our check and our CREATE
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, tx);
        await command.ExecuteNonQueryAsync(ct);
    }
}
