// pool-exhaustion: the server-side backstops for connections a bug holds too long. Set on the service's own database
// (ALTER DATABASE … SET, so every new session of every replica gets them; the service role owns its database):
//   idle_in_transaction_session_timeout — a transaction left open while the code waits on something else (a remote
//     call inside a transaction) is ended by PostgreSQL, its locks released and its connection returned;
//   statement_timeout — no single statement runs (or waits on a lock) longer than this.
// Values sit far above any legitimate statement or transaction of ReliableShop (milliseconds) and above the migration
// lock wait, so they only ever cut a bug. Doc: docs/failure-modes/pool-exhaustion.md
namespace Microsoft.Extensions.Hosting;

public static class SessionTimeouts
{
    public const string IdleInTransaction = "10s";
    public const string Statement = "30s";

    public static SchemaMigration Migration(string id) => new(id, $"""
        DO $$
        BEGIN
            EXECUTE format('ALTER DATABASE %I SET idle_in_transaction_session_timeout = %L', current_database(), '{IdleInTransaction}');
            EXECUTE format('ALTER DATABASE %I SET statement_timeout = %L', current_database(), '{Statement}');
        END
        $$;
        """);
}
