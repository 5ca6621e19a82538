// Proves the enqueue guarantees against real PostgreSQL: a job exists iff the caller's transaction commits,
// it runs once, a duplicate (kind, uniqueKey) is a no-op, and only kinds with a handler are claimed.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ReliableShop.TestServers;
using static ReliableShop.Jobs.Tests.JobsTestHost;

namespace ReliableShop.Jobs.Tests;

public sealed class JobQueueTests
{
    [Fact]
    public async Task Enqueue_CommittedTransaction_HandledOnceAndSucceeded()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"));

        var id = (await EnqueueAsync(db, "work", """{"orderId":"o-1"}"""))!.Value;

        await WaitForStateAsync(db, id, "succeeded");
        Assert.Equal(1L, await ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {id}"));
        Assert.Equal(1, await ScalarAsync<int>(db, $"SELECT attempt FROM jobs WHERE id = {id}"));
        Assert.True(await ScalarAsync<bool>(db, $"SELECT locked_by IS NULL AND finished_at IS NOT NULL FROM jobs WHERE id = {id}"));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Enqueue_RolledBackTransaction_NeverRuns()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"));

        var rolledBack = (await EnqueueAsync(db, "work", commit: false))!.Value;
        var committed = (await EnqueueAsync(db, "work"))!.Value; // queued after it: once this ran, the other would have too

        await WaitForStateAsync(db, committed, "succeeded");
        Assert.Equal("missing", await StateAsync(db, rolledBack));
        Assert.Equal(0L, await ScalarAsync<long>(db, $"SELECT count(*) FROM executions WHERE job_id = {rolledBack}"));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Enqueue_DuplicateUniqueKey_ReturnsNullAndKeepsOneJob()
    {
        var db = await CreateDatabaseAsync();

        var first = await EnqueueAsync(db, "capture", uniqueKey: "order-42");
        var duplicate = await EnqueueAsync(db, "capture", uniqueKey: "order-42");
        var otherKind = await EnqueueAsync(db, "refund", uniqueKey: "order-42");

        Assert.NotNull(first);
        Assert.Null(duplicate);
        Assert.NotNull(otherKind);
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM jobs WHERE kind = 'capture'"));
    }

    [Fact]
    public async Task Worker_KindWithoutHandler_LeavesJobQueued()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"));

        var foreign = (await EnqueueAsync(db, "handled-elsewhere"))!.Value;
        var mine = (await EnqueueAsync(db, "work"))!.Value;

        await WaitForStateAsync(db, mine, "succeeded");
        Assert.Equal("queued", await StateAsync(db, foreign));
        var stats = await host.Services.GetRequiredService<JobsAdmin>().GetStatsAsync(Ct);
        Assert.Equal((1L, 0L, 0L), (stats.Queued, stats.Running, stats.Dead));
        Assert.True(stats.OldestQueuedAgeSeconds > 0, $"oldest queued age {stats.OldestQueuedAgeSeconds}");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Enqueue_RunAtInFuture_NotRunBeforeIt()
    {
        var db = await CreateDatabaseAsync();
        using var host = await StartAsync(db, "a", s => s.AddJobHandler<RecordingHandler>("work"));
        await using var connection = new Npgsql.NpgsqlConnection(db);
        await connection.OpenAsync(Ct);
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        var runAt = await ScalarAsync<DateTime>(db, "SELECT now() + interval '1 hour'");
        var later = (await JobQueue.EnqueueAsync(connection, transaction, "work", "{}", runAt: new DateTimeOffset(runAt, TimeSpan.Zero), ct: Ct))!.Value;
        await transaction.CommitAsync(Ct);
        var now = (await EnqueueAsync(db, "work"))!.Value;

        await WaitForStateAsync(db, now, "succeeded");
        Assert.Equal("queued", await StateAsync(db, later));
        await host.StopAsync(Ct);
    }
}
