// The order confirmation ("we have your order" e-mail), the side effect of StockReserved: one row per message sent.
// No unique constraint on purpose — the table records what was SENT, so a duplicate send is visible, and the
// reconciliation query (OrderingInvariants.ConfirmationsNotExactlyOneSql) counts it. Doc: docs/failure-modes/background-jobs.md
using Npgsql;

namespace ReliableShop.Ordering.Fulfilment;

public static class OrderConfirmations
{
    public const string Sql = """
        CREATE TABLE IF NOT EXISTS order_confirmations (
            id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            order_id   uuid        NOT NULL,
            message_id uuid        NOT NULL,
            sent_at    timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX IF NOT EXISTS order_confirmations_order ON order_confirmations (order_id);
        """;

    private const string SendSql = "INSERT INTO order_confirmations (order_id, message_id) VALUES ($1, $2)";

    /// <summary>Sends (records) one confirmation, in <paramref name="tx"/> when given, else in its own auto-commit.</summary>
    public static async Task SendAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, Guid orderId, Guid messageId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(SendSql, connection, tx);
        command.Parameters.Add(new() { Value = orderId });
        command.Parameters.Add(new() { Value = messageId });
        await command.ExecuteNonQueryAsync(ct);
    }
}
