// Schema of the orders database: one row per Idempotency-Key (UNIQUE, so a retried or concurrent duplicate POST can
// never create a second order), its lines, and its status history; plus the outbox/inbox and job queue tables.
// Doc: docs/failure-modes/race-conditions.md
using ReliableShop.Jobs;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Database;

public static class OrderingSchema
{
    //   PaymentPending ──authorize job──► Placed            (circuit-breaker fallback; declined ⇒ Cancelled)
    //   Placed ──StockReserved──► Reserved ──capture job──► Confirmed
    //     └────StockRejected──► Rejected ──void job─────► Cancelled
    // Every move is a conditional UPDATE (WHERE status = <from>), so a duplicate or late event changes nothing.
    public const string OrdersSql = """
        CREATE TABLE IF NOT EXISTS orders (
            id                       uuid          PRIMARY KEY,
            idempotency_key          text          NOT NULL UNIQUE,   -- one order per key: the unique insert IS the check
            request_hash             text          NOT NULL,          -- same key + different body ⇒ 422, never a replay
            customer_id              text          NOT NULL,
            status                   text          NOT NULL
                CHECK (status IN ('Placed', 'Reserved', 'Confirmed', 'Rejected', 'Cancelled')),
            total                    numeric(12,2) NOT NULL CHECK (total >= 0),
            payment_authorization_id uuid          NULL,
            created_at               timestamptz   NOT NULL,
            updated_at               timestamptz   NOT NULL
        );

        CREATE TABLE IF NOT EXISTS order_lines (
            order_id   uuid          NOT NULL REFERENCES orders (id),
            sku        text          NOT NULL,
            quantity   int           NOT NULL CHECK (quantity > 0),
            unit_price numeric(12,2) NOT NULL CHECK (unit_price >= 0),
            PRIMARY KEY (order_id, sku)                               -- one line per SKU per order
        );

        CREATE TABLE IF NOT EXISTS order_history (
            id       bigserial   PRIMARY KEY,
            order_id uuid        NOT NULL REFERENCES orders (id),
            status   text        NOT NULL,
            note     text        NULL,
            at       timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS order_history_order ON order_history (order_id, id);
        """;

    // circuit-breaker fallback: an order accepted while Payment was unavailable waits as PaymentPending until the
    // authorize job moves it to Placed (or Cancelled when Payment declines).
    public const string PaymentPendingSql = """
        ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
        ALTER TABLE orders ADD CONSTRAINT orders_status_check
            CHECK (status IN ('PaymentPending', 'Placed', 'Reserved', 'Confirmed', 'Rejected', 'Cancelled'));
        """;

    // The fallback's bound counts the waiting orders on every refresh (Orders/PaymentPendingBacklog.cs): a partial index
    // keeps that count to the backlog's size, not the table's.
    public const string PaymentPendingIndexSql = """
        CREATE INDEX IF NOT EXISTS orders_payment_pending ON orders (id) WHERE status = 'PaymentPending';
        """;

    // overload contain reads the oldest order still owed its reservation or capture (Admission/FollowUpBacklog.cs) five
    // times a second per replica while the door is refusing: a partial index keeps that to the backlog, not the table.
    public const string FollowUpIndexSql = """
        CREATE INDEX IF NOT EXISTS orders_follow_up ON orders (created_at) WHERE status IN ('Placed', 'Reserved');
        """;

    // Issue 5 (scaling-plateau, load-only-bugs). cart_id is deliberately NOT unique on orders: the naive one-order-per-cart
    // check (SELECT, then INSERT) must be able to write its duplicates; the control's guarantee is cart_claims' primary
    // key. Order numbers: a sequence (contain/off — no row lock) and the hot counter row the naive path locks.
    public const string CartsAndOrderNumbersSql = """
        ALTER TABLE orders ADD COLUMN IF NOT EXISTS cart_id text NULL;
        CREATE INDEX IF NOT EXISTS orders_cart ON orders (cart_id) WHERE cart_id IS NOT NULL;
        CREATE TABLE IF NOT EXISTS cart_claims (
            cart_id         text        PRIMARY KEY,              -- one order per cart: the unique insert IS the check
            idempotency_key text        NOT NULL,                 -- the request that owns the cart's order
            claimed_at      timestamptz NOT NULL
        );
        CREATE SEQUENCE IF NOT EXISTS order_numbers;
        ALTER TABLE orders ADD COLUMN IF NOT EXISTS order_number bigint NULL DEFAULT nextval('order_numbers');
        CREATE TABLE IF NOT EXISTS order_number_counter (
            id   int    PRIMARY KEY CHECK (id = 1),               -- ONE row: the hot row of scaling-plateau's naive path
            last bigint NOT NULL
        );
        INSERT INTO order_number_counter (id, last) VALUES (1, 0) ON CONFLICT DO NOTHING;
        """;

    /// <summary>Registers the migrations; they run (under an advisory lock) before any hosted service that needs the tables.</summary>
    public static IServiceCollection AddOrderingDatabase(this IServiceCollection services) =>
        services.AddDatabaseMigrations(
            new SchemaMigration("0001_orders", OrdersSql),
            new SchemaMigration("0002_outbox", OutboxSchema.Sql),
            new SchemaMigration("0003_jobs", JobsSchema.Sql),
            new SchemaMigration("0010_payment_pending", PaymentPendingSql),
            new SchemaMigration("0020_carts_and_order_numbers", CartsAndOrderNumbersSql),
            SessionTimeouts.Migration("0021_session_timeouts"),
            new SchemaMigration("0040_job_drill_executions", JobQueueDrill.DrillJob.Sql),
            new SchemaMigration("0041_order_confirmations", Fulfilment.OrderConfirmations.Sql),
            new SchemaMigration("0042_payment_pending_index", PaymentPendingIndexSql),
            new SchemaMigration("0043_follow_up_index", FollowUpIndexSql));
}
