// Direct SQL against the app's database: the tests assert on rows, not only on HTTP answers.
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public static class Db
{
    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
        return (T)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    /// <summary>Best-effort cleanup: a backend of another role (e.g. a superuser's session) can block it; then the database stays.</summary>
    public static async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var server = new NpgsqlConnectionStringBuilder(await Servers.PostgresAsync()) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        try
        {
            await drop.ExecuteNonQueryAsync();
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.ObjectInUse)
        {
            // left for a later cleanup; every database name is unique, so it never disturbs another run
        }
    }
}
