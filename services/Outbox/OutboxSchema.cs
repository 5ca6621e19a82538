// Schema of the transactional outbox and the inbox: the outbox row commits with the business change (no lost or
// phantom events); the inbox primary key turns a redelivered message into a no-op (no duplicate effects).
// Doc: docs/failure-modes/outbox.md
namespace ReliableShop.Outbox;

public static class OutboxSchema
{
    // Row state machine (outbox_messages.status):
    //
    //   pending ──claim (lock_token + lease)──► claimed* ──broker confirmed──► published ──RetentionHours──► deleted
    //      ▲                                    │
    //      ├◄── publish failed, attempts < Max ─┤ (due again after the backoff)
    //      ├◄── lease expired (claimer died) ───┤
    //      │                                    ▼ publish failed, attempts = MaxAttempts
    //      └◄── OutboxAdmin.ReplayDeadAsync ◄── dead
    //
    //   * claimed = pending with a live lease (lock_token, locked_until), not a status value of its own. A claim moves
    //     next_attempt_at to the lease end, so "next_attempt_at <= now()" is the one predicate that finds both due
    //     rows and rows whose claimer crashed.
    public const string Sql = """
        CREATE TABLE IF NOT EXISTS outbox_messages (
            id              uuid        PRIMARY KEY,          -- becomes the MassTransit MessageId (consumers dedup on it)
            message_type    text        NOT NULL,
            payload         jsonb       NOT NULL,
            created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'dead')),
            attempts        int         NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            lock_token      uuid,                              -- fences the claimer: only it may mark the row
            locked_until    timestamptz,
            published_at    timestamptz,
            last_error      text
        );
        -- the relay's claim reads only due pending rows
        CREATE INDEX IF NOT EXISTS outbox_messages_pending ON outbox_messages (next_attempt_at) WHERE status = 'pending';
        -- retention cleanup reads only published rows
        CREATE INDEX IF NOT EXISTS outbox_messages_published ON outbox_messages (published_at) WHERE status = 'published';

        CREATE TABLE IF NOT EXISTS inbox_messages (
            consumer     text        NOT NULL,
            message_id   uuid        NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, message_id)                 -- one effect per (consumer, message)
        );
        """;
}
