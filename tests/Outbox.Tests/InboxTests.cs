// Inbox guarantee against PostgreSQL's primary key: one (consumer, message id) is accepted once, however many
// deliveries race; a rolled-back acceptance does not burn the id.
namespace ReliableShop.Outbox.Tests;

public sealed class InboxTests
{
    [Fact]
    public async Task TryAccept_SecondDeliveryOfSameId_ReturnsFalse()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var id = Guid.NewGuid();

        Assert.True(await AcceptAsync(db, "inventory", id, commit: true));
        Assert.False(await AcceptAsync(db, "inventory", id, commit: true));
        Assert.True(await AcceptAsync(db, "ordering", id, commit: true)); // dedup is per consumer
    }

    [Fact]
    public async Task TryAccept_TwentyConcurrentDeliveries_ExactlyOneAccepted()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var id = Guid.NewGuid();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // 20 deliveries, each with its own connection and open transaction, released together
        var deliveries = Enumerable.Range(0, 20).Select(_ => AcceptAsync(db, "inventory", id, commit: true, start.Task)).ToList();
        start.SetResult();
        var results = await Task.WhenAll(deliveries);

        Assert.Single(results, accepted => accepted);
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM inbox_messages WHERE message_id = $1", id));
    }

    [Fact]
    public async Task TryAccept_RolledBackAcceptance_DoesNotBurnTheId()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        var id = Guid.NewGuid();

        Assert.True(await AcceptAsync(db, "inventory", id, commit: false)); // the handler failed after accepting
        Assert.True(await AcceptAsync(db, "inventory", id, commit: true));  // the redelivery is processed
    }

    private static async Task<bool> AcceptAsync(OutboxDatabase db, string consumer, Guid id, bool commit, Task? start = null)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var connection = await db.DataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await (start ?? Task.CompletedTask);
        var accepted = await Inbox.TryAcceptAsync(connection, tx, consumer, id, ct);
        if (commit) await tx.CommitAsync(ct); else await tx.RollbackAsync(ct);
        return accepted;
    }
}
