// Retention: published rows past RetentionHours are deleted (in batches); pending and dead rows are never deleted.
using Microsoft.Extensions.Logging.Abstractions;

namespace ReliableShop.Outbox.Tests;

public sealed class OutboxCleanupTests
{
    [Fact]
    public async Task Cleanup_PublishedOlderThanRetention_DeletedPendingAndDeadKept()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        // 2,500 old published rows (more than one 1,000-row delete batch), plus one row of every kind that must stay.
        await db.ExecuteAsync("""
            INSERT INTO outbox_messages (id, message_type, payload, status, created_at, published_at)
            SELECT gen_random_uuid(), 'T', '{}', 'published', now() - interval '49 hours', now() - interval '48 hours'
            FROM generate_series(1, 2500)
            """);
        await db.ExecuteAsync("""
            INSERT INTO outbox_messages (id, message_type, payload, status, created_at, published_at) VALUES
                (gen_random_uuid(), 'T', '{}', 'published', now() - interval '2 hours', now() - interval '1 hour'),
                (gen_random_uuid(), 'T', '{}', 'pending',   now() - interval '72 hours', NULL),
                (gen_random_uuid(), 'T', '{}', 'dead',      now() - interval '72 hours', NULL)
            """);
        var cleanup = new OutboxCleanup(db.DataSource, TimeProvider.System, NullLogger.Instance);

        var deleted = await cleanup.DeleteExpiredAsync(TimeSpan.FromHours(24), TestContext.Current.CancellationToken);

        Assert.Equal(2500, deleted);
        Assert.Equal(1L, await db.CountAsync("published"));
        Assert.Equal(1L, await db.CountAsync("pending"));
        Assert.Equal(1L, await db.CountAsync("dead"));
    }
}
