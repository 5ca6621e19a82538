// Transactional outbox write: the event row commits or rolls back with the caller's business change, so an event is
// never lost (crash after commit) nor phantom (rolled-back transaction). The relay publishes it later.
// Doc: docs/failure-modes/outbox.md
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace ReliableShop.Outbox;

public static class OutboxWriter
{
    public const string NotifyChannel = "reliableshop_outbox";

    internal static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    // Same transaction as the business rows: atomic with them. NOTIFY is queued and delivered only on commit
    // (PostgreSQL folds identical notifications of one transaction into one), so the relay wakes within milliseconds.
    private const string InsertSql = """
        INSERT INTO outbox_messages (id, message_type, payload) VALUES ($1, $2, $3)
        """;

    private const string NotifySql = $"NOTIFY {NotifyChannel}";

    /// <summary>Writes <paramref name="message"/> in <paramref name="transaction"/>; returns its id (the MassTransit MessageId).</summary>
    public static async Task<Guid> EnqueueAsync<T>(NpgsqlConnection connection, NpgsqlTransaction transaction, T message, CancellationToken ct)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(message);
        var type = message.GetType();
        var id = Guid.CreateVersion7(); // time-ordered: new rows land at the right edge of the primary key index
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(InsertSql)
                {
                    Parameters =
                    {
                        new() { Value = id },
                        new() { Value = OutboxMessageTypes.NameOf(type) },
                        new() { Value = JsonSerializer.Serialize(message, type, Json), NpgsqlDbType = NpgsqlDbType.Jsonb },
                    },
                },
                new NpgsqlBatchCommand(NotifySql),
            },
        };
        await batch.ExecuteNonQueryAsync(ct);
        return id;
    }
}
