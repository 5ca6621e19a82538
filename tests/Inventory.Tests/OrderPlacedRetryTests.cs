// Which failures of a reservation are retried in-process (OrderPlacedConsumerDefinition) and which go to the _error
// queue at once — judged on the exceptions real PostgreSQL raises, not on hand-made ones. A session PostgreSQL ends for
// idling in its transaction rolled the reservation back: retried, it succeeds; sent to the _error queue, its order
// stays Placed for good (an overload drill's reproduce, 2026-12-06 23:34: 6 orders). The same for a statement PostgreSQL
// ended at statement_timeout while it waited for the hot rows' locks (a CI rehearsal's reproduce, 2026-12-07 02:08: 1).
using Npgsql;
using ReliableShop.Inventory.Reservations;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class OrderPlacedRetryTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task IsTransient_SessionEndedForIdlingInItsTransaction_Retried()
    {
        await using var connection = new NpgsqlConnection(await ServerConnectionStringAsync());
        await connection.OpenAsync(ct);
        await using (var set = new NpgsqlCommand("SET idle_in_transaction_session_timeout = '100ms'", connection))
        {
            await set.ExecuteNonQueryAsync(ct);
        }
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var first = new NpgsqlCommand("SELECT 1", connection, tx))
        {
            await first.ExecuteScalarAsync(ct);
        }

        // Idle inside the transaction until PostgreSQL ends the session — watched from a second connection, so the
        // watching does not reset the idle timer — then the next statement gets the FATAL 25P03 the server sent.
        var pid = connection.ProcessID;
        await using var watcher = new NpgsqlConnection(await ServerConnectionStringAsync());
        await watcher.OpenAsync(ct);
        await Eventually.WaitAsync(async () =>
        {
            await using var alive = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", watcher) { Parameters = { new() { Value = pid } } };
            return (long)(await alive.ExecuteScalarAsync(ct))!;
        }, sessions => sessions == 0, TimeSpan.FromSeconds(10), "PostgreSQL ended the idle session");
        await using var next = new NpgsqlCommand("SELECT 1", connection, tx);
        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() => next.ExecuteScalarAsync(ct));

        Assert.Equal("25P03", Assert.IsType<PostgresException>(failure).SqlState);
        Assert.True(OrderPlacedConsumerDefinition.IsTransient(failure));
    }

    [Fact]
    public async Task IsTransient_LockWaitEndedAtStatementTimeout_Retried()
    {
        // The stock UPDATE's case: waiting for a lock another transaction holds, until statement_timeout ends the wait.
        await using var holder = new NpgsqlConnection(await ServerConnectionStringAsync());
        await holder.OpenAsync(ct);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(4242)", holder))
        {
            await take.ExecuteScalarAsync(ct);
        }
        await using var waiter = new NpgsqlConnection(await ServerConnectionStringAsync());
        await waiter.OpenAsync(ct);
        await using (var set = new NpgsqlCommand("SET statement_timeout = '200ms'", waiter))
        {
            await set.ExecuteNonQueryAsync(ct);
        }
        await using var wait = new NpgsqlCommand("SELECT pg_advisory_lock(4242)", waiter);

        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() => wait.ExecuteScalarAsync(ct));

        Assert.Equal(PostgresErrorCodes.QueryCanceled, Assert.IsType<PostgresException>(failure).SqlState);
        Assert.True(OrderPlacedConsumerDefinition.IsTransient(failure));
    }

    [Fact]
    public async Task CancelledByTheToken_SurfacesAsOperationCanceled_NotAsTheRetriedTimeout()
    {
        // The same SQLSTATE (57014) answers a cancellation Npgsql sends for a CancellationToken; Npgsql raises that as
        // OperationCanceledException, which the retry's NpgsqlException filter never sees: a stopping consumer is not retried.
        await using var connection = new NpgsqlConnection(await ServerConnectionStringAsync());
        await connection.OpenAsync(ct);
        await using var sleep = new NpgsqlCommand("SELECT pg_sleep(30)", connection);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(200));

        var failure = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sleep.ExecuteScalarAsync(cancel.Token));

        Assert.Equal(PostgresErrorCodes.QueryCanceled, Assert.IsType<PostgresException>(failure.InnerException).SqlState);
    }

    [Fact]
    public async Task IsTransient_ErrorNoRetryCanFix_NotRetried()
    {
        await using var connection = new NpgsqlConnection(await ServerConnectionStringAsync());
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand("SELECT 1 / 0", connection);

        var failure = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteScalarAsync(ct));

        Assert.Equal(PostgresErrorCodes.DivisionByZero, failure.SqlState);
        Assert.False(OrderPlacedConsumerDefinition.IsTransient(failure));
    }

    // No tables needed: the server's own database, each session unpooled (the ended one must not go back to a pool).
    private static async Task<string> ServerConnectionStringAsync() =>
        new NpgsqlConnectionStringBuilder(await Servers.PostgresAsync()) { Database = "postgres", Pooling = false }.ConnectionString;
}
