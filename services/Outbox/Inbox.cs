// Idempotent consumer: the relay delivers at least once, so a consumer records (consumer, message id) in the same
// transaction as its effect; a redelivery hits the primary key and the effect is skipped, not repeated.
// Doc: docs/failure-modes/outbox.md
using Npgsql;

namespace ReliableShop.Outbox;

public static class Inbox
{
    // A unique insert, not check-then-insert: two concurrent deliveries of one message cannot both see "new" —
    // the second waits on the first's row lock and gets 0 rows once it commits (or 1 if it rolled back).
    private const string AcceptSql = """
        INSERT INTO inbox_messages (consumer, message_id) VALUES ($1, $2)
        ON CONFLICT (consumer, message_id) DO NOTHING
        """;

    /// <summary>
    /// Records the delivery in <paramref name="transaction"/>. False = this consumer already processed the message
    /// (a duplicate delivery): the caller applies no effect and commits nothing else.
    /// </summary>
    public static async Task<bool> TryAcceptAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string consumer, Guid messageId, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        await using var command = new NpgsqlCommand(AcceptSql, connection, transaction);
        command.Parameters.Add(new() { Value = consumer });
        command.Parameters.Add(new() { Value = messageId });
        return await command.ExecuteNonQueryAsync(ct) == 1;
    }
}
