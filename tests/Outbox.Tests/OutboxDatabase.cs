// A fresh PostgreSQL database with the outbox schema, per test, dropped afterwards.
using Npgsql;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

public sealed record OutboxTestMessage(int Sequence, string Note);

internal sealed class OutboxDatabase : IAsyncDisposable
{
    private OutboxDatabase(string connectionString)
    {
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public static async Task<OutboxDatabase> CreateAsync()
    {
        var database = new OutboxDatabase(await Servers.CreateDatabaseAsync("outbox"));
        await database.ExecuteAsync(OutboxSchema.Sql);
        return database;
    }

    /// <summary>Enqueues <paramref name="count"/> messages in one transaction, committed or rolled back.</summary>
    public async Task<List<Guid>> EnqueueAsync(int count = 1, bool commit = true)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await DataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(await OutboxWriter.EnqueueAsync(connection, tx, new OutboxTestMessage(i, "hello"), ct));
        }
        if (commit) await tx.CommitAsync(ct); else await tx.RollbackAsync(ct);
        return ids;
    }

    public async Task<long> CountAsync(string status, IEnumerable<Guid>? ids = null)
    {
        await using var command = DataSource.CreateCommand(
            "SELECT count(*) FROM outbox_messages WHERE status = $1 AND ($2::uuid[] IS NULL OR id = ANY($2))");
        command.Parameters.Add(new() { Value = status });
        command.Parameters.Add(new() { Value = ids?.ToArray() ?? (object)DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Uuid });
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public async Task<(string Status, int Attempts, string? LastError)> RowAsync(Guid id)
    {
        await using var command = DataSource.CreateCommand("SELECT status, attempts, last_error FROM outbox_messages WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        Assert.True(await reader.ReadAsync(TestContext.Current.CancellationToken), $"row {id} missing");
        return (reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] values)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var value in values) command.Parameters.Add(new() { Value = value });
        return (T)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public async Task ExecuteAsync(string sql, params object[] values)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var value in values) command.Parameters.Add(new() { Value = value });
        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        var name = builder.Database!;
        builder.Database = "postgres";
        builder.Pooling = false;
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        try
        {
            await drop.ExecuteNonQueryAsync();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            // A backend of another role is in the fresh database (autovacuum, as the superuser) and the test role may not
            // terminate it (CI, 2026-12-04). Cleanup is not what the test proves: the t_* database is left for
            // infra/local-servers.sh drop-test-databases, which infra/test.sh runs before every run.
        }
    }
}
