// The reaper shares its service's connection pool with every request. Npgsql reuses one reader object per physical
// connection, so code that disposes a reader twice — once by hand, once at the end of its `await using` scope — closes,
// the second time, whatever command holds that connection by then: another request's read fails mid-flight. The reaper
// did exactly that (a CI rehearsal of 2026-12-07, 02:08 UTC: "Received backend message ParseComplete while expecting
// ReadyForQueryMessage" in the reaper, and a neighbour's read broken). Proven here on real PostgreSQL with a pool of one
// connection, so that the neighbour's query is always the one holding the reaper's former connection.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using static ReliableShop.Jobs.Tests.JobsTestHost;

namespace ReliableShop.Jobs.Tests;

public sealed class ReaperSharedPoolTests
{
    private const int Passes = 10;

    [Fact]
    public async Task Reap_NeighbourQueryingOnTheSamePool_NeitherFails()
    {
        var db = await CreateDatabaseAsync();
        var onePool = new NpgsqlConnectionStringBuilder(db) { MaxPoolSize = 1 }.ConnectionString;
        using var host = Build(onePool, "reaper", _ => { }); // not started: the test drives the reaper's passes itself
        var maintenance = host.Services.GetServices<IHostedService>().OfType<JobMaintenance>().Single();
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();

        // The neighbour: one request after another on the same pool, each holding the connection for a read of 50 ms,
        // so it is waiting for the connection whenever the reaper gives it back.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var neighbourReads = 0;
        var neighbour = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await using var command = dataSource.CreateCommand("SELECT n FROM generate_series(1, 3) n, pg_sleep(0.05)");
                await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
                var rows = 0;
                while (await reader.ReadAsync(CancellationToken.None)) rows += reader.GetInt32(0);
                Assert.Equal(6, rows);
                Interlocked.Increment(ref neighbourReads);
            }
        }, CancellationToken.None);

        for (var pass = 0; pass < Passes; pass++)
        {
            await ExecuteAsync(db, """
                INSERT INTO jobs (kind, payload, state, attempt, locked_by, locked_until)
                VALUES ('work', '{}', 'running', 1, gen_random_uuid(), now() - interval '1 second') -- a crashed claim
                """);
            Assert.Equal(1, await maintenance.ReapAsync(Ct)); // reaped, and NOTIFY sent on the shared pool
        }
        await stop.CancelAsync();
        await neighbour; // rethrows the neighbour's failure, if its read was closed under it

        Assert.True(neighbourReads >= Passes, $"the neighbour read {neighbourReads} times: it did not run beside the reaper");
        Assert.Equal(Passes, await ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE state = 'queued'"));
    }
}
