// The payments schema. The invariants live in constraints, not in code: one authorization per idempotency key
// (UNIQUE), at most one capture and one void per authorization (the authorization id is each table's PRIMARY KEY).
// Doc: docs/failure-modes/race-conditions.md
namespace ReliableShop.Payment.Database;

public static class PaymentsSchema
{
    public static readonly SchemaMigration Initial = new("0001_payments", """
        CREATE TABLE authorizations (
            id              uuid          PRIMARY KEY,
            idempotency_key text          NOT NULL UNIQUE,
            request_hash    text          NOT NULL,
            order_id        uuid          NOT NULL,
            amount          numeric(12,2) NOT NULL CHECK (amount > 0),
            currency        char(3)       NOT NULL,
            status          text          NOT NULL CHECK (status IN ('authorized', 'captured', 'voided')),
            created_at      timestamptz   NOT NULL,
            updated_at      timestamptz   NOT NULL
        );
        CREATE INDEX authorizations_order_id ON authorizations (order_id);

        -- Exactly one row per captured authorization: what the "more than one capture per order" invariant counts.
        CREATE TABLE captures (
            authorization_id uuid          PRIMARY KEY REFERENCES authorizations (id),
            amount           numeric(12,2) NOT NULL,
            captured_at      timestamptz   NOT NULL
        );

        CREATE TABLE voids (
            authorization_id uuid        PRIMARY KEY REFERENCES authorizations (id),
            voided_at        timestamptz NOT NULL
        );
        """);
}
