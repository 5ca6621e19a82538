// The inventory schema. Stock can never go below zero (CHECK, on top of the conditional UPDATE); an order has at most
// one reservation outcome (PRIMARY KEY); every row change bumps catalog_items.version, which versions the cache.
// Doc: docs/failure-modes/race-conditions.md
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Database;

public static class InventorySchema
{
    public static readonly SchemaMigration Initial = new("0001_inventory", """
        CREATE TABLE catalog_items (
            sku       text          PRIMARY KEY,
            name      text          NOT NULL,
            price     numeric(12,2) NOT NULL CHECK (price > 0),
            available int           NOT NULL CHECK (available >= 0),
            version   bigint        NOT NULL DEFAULT 1
        );

        CREATE TABLE reservations (
            order_id uuid NOT NULL,
            sku      text NOT NULL REFERENCES catalog_items (sku),
            quantity int  NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (order_id, sku)
        );

        -- One outcome per order: a second OrderPlaced for the same order (even under a new message id) reserves nothing.
        CREATE TABLE reservation_outcomes (
            order_id uuid        PRIMARY KEY,
            outcome  text        NOT NULL CHECK (outcome IN ('reserved', 'rejected')),
            reason   text,
            at       timestamptz NOT NULL
        );

        -- Seed: SKU-0001 … SKU-0060, six ranges × ten products, deterministic prices 4.99 … 103.99, 1000 in stock each.
        INSERT INTO catalog_items (sku, name, price, available)
        SELECT 'SKU-' || lpad(i::text, 4, '0'),
               (ARRAY['Classic', 'Compact', 'Deluxe', 'Eco', 'Pro', 'Travel'])[(i - 1) / 10 + 1] || ' ' ||
               (ARRAY['Mug', 'Notebook', 'Backpack', 'Desk Lamp', 'Headphones', 'Water Bottle', 'Desk Mat',
                      'Pen Set', 'Charger', 'Umbrella'])[(i - 1) % 10 + 1],
               4.99 + (i * 37 % 100),
               1000
        FROM generate_series(1, 60) AS i;
        """);

    /// <summary>outbox_messages + inbox_messages (idempotent DDL owned by the Outbox library).</summary>
    public static readonly SchemaMigration Outbox = new("0002_outbox", OutboxSchema.Sql);

    // Stock accounting for the oversold invariant (Invariants/InventoryInvariants.cs).
    // received = every unit ever made available for sale. Reserving moves units from available to reservations and
    // leaves it alone, so sum(reservations) > received proves an oversell even when a lost update kept available >= 0.
    public static readonly SchemaMigration StockAccounting = new("0003_stock_accounting", """
        ALTER TABLE catalog_items ADD COLUMN received int NOT NULL DEFAULT 0;

        UPDATE catalog_items c
        SET received = c.available + coalesce((SELECT sum(r.quantity) FROM reservations r WHERE r.sku = c.sku), 0);
        """);

    // Product popularity, written behind by Catalog/CatalogViewWriter.cs. No foreign key to catalog_items: a view of an
    // unknown SKU must not fail the batch it is written in (the route checks the format only, never the database).
    public static readonly SchemaMigration CatalogViews = new("0022_catalog_views", """
        CREATE TABLE catalog_item_views (
            sku   text   PRIMARY KEY,
            views bigint NOT NULL CHECK (views >= 0)
        );
        """);

    /// <summary>Every migration, in the order they run.</summary>
    public static SchemaMigration[] All => [Initial, Outbox, StockAccounting, SessionTimeouts.Migration("0021_session_timeouts"), CatalogViews];
}
