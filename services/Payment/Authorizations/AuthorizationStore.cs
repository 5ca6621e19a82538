// Idempotent charges by construction: a unique insert decides which request owns an idempotency key (never
// check-then-insert), and conditional UPDATEs move an authorization authorized → captured | voided exactly once.
// Doc: docs/failure-modes/race-conditions.md
//
//   authorized ──capture──▶ captured   (capture again: 200, no second captures row; void: 409)
//        └──────void─────▶ voided     (void again: 200; capture: 409)
using Dapper;
using Npgsql;

namespace ReliableShop.Payment.Authorizations;

public enum TransitionOutcome { Done, NotFound, Conflict }

public sealed class AuthorizationStore(NpgsqlDataSource db, TimeProvider time)
{
    private const string Columns = "id, order_id AS OrderId, amount, currency, status, created_at AS CreatedAt";

    /// <summary>Returns the stored authorization and whether this call created it; null when the key holds a different request.</summary>
    public async Task<(Authorization Authorization, bool Created)?> AuthorizeAsync(string key, AuthorizeRequest request, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var hash = request.Hash();
        // Exactly one row per key: concurrent inserts of one key wait on the unique index; all but one do nothing.
        var created = await connection.QuerySingleOrDefaultAsync<Authorization>(new CommandDefinition($"""
            INSERT INTO authorizations (id, idempotency_key, request_hash, order_id, amount, currency, status, created_at, updated_at)
            VALUES (@Id, @Key, @Hash, @OrderId, @Amount, @Currency, 'authorized', @Now, @Now)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING {Columns}
            """, new { Id = Guid.CreateVersion7(time.GetUtcNow()), Key = key, Hash = hash, request.OrderId, request.Amount, request.Currency, Now = time.GetUtcNow() },
            cancellationToken: ct));
        if (created is not null)
        {
            return (created, true);
        }
        var stored = await connection.QuerySingleAsync<(string RequestHash, Guid Id)>(new CommandDefinition(
            "SELECT request_hash, id FROM authorizations WHERE idempotency_key = @Key", new { Key = key }, cancellationToken: ct));
        if (stored.RequestHash != hash)
        {
            return null;
        }
        return (await GetAsync(connection, stored.Id, ct) ?? throw new InvalidOperationException("authorization vanished"), false);
    }

    public async Task<Authorization?> GetAsync(Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await GetAsync(connection, id, ct);
    }

    /// <summary>authorized → captured, recording the single captures row; replaying a capture changes nothing.</summary>
    public Task<(TransitionOutcome, Authorization?)> CaptureAsync(Guid id, CancellationToken ct) => TransitionAsync(id, "captured", """
        -- Only the statement that moves the row out of 'authorized' inserts the capture: concurrent captures of one
        -- authorization serialise on the row lock, and the loser re-reads status = 'captured' and matches nothing.
        WITH moved AS (
            UPDATE authorizations SET status = 'captured', updated_at = @Now
            WHERE id = @Id AND status = 'authorized'
            RETURNING id, amount
        )
        INSERT INTO captures (authorization_id, amount, captured_at)
        SELECT id, amount, @Now FROM moved
        ON CONFLICT (authorization_id) DO NOTHING
        """, ct);

    /// <summary>authorized → voided, recording the single voids row; replaying a void changes nothing.</summary>
    public Task<(TransitionOutcome, Authorization?)> VoidAsync(Guid id, CancellationToken ct) => TransitionAsync(id, "voided", """
        WITH moved AS (
            UPDATE authorizations SET status = 'voided', updated_at = @Now
            WHERE id = @Id AND status = 'authorized'
            RETURNING id
        )
        INSERT INTO voids (authorization_id, voided_at)
        SELECT id, @Now FROM moved
        ON CONFLICT (authorization_id) DO NOTHING
        """, ct);

    private async Task<(TransitionOutcome, Authorization?)> TransitionAsync(Guid id, string target, string sql, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { Id = id, Now = time.GetUtcNow() }, cancellationToken: ct));
        var current = await GetAsync(connection, id, ct);
        return current switch
        {
            null => (TransitionOutcome.NotFound, null),
            _ when current.Status == target => (TransitionOutcome.Done, current),
            _ => (TransitionOutcome.Conflict, current),
        };
    }

    private static Task<Authorization?> GetAsync(NpgsqlConnection connection, Guid id, CancellationToken ct) =>
        connection.QuerySingleOrDefaultAsync<Authorization>(new CommandDefinition(
            $"SELECT {Columns} FROM authorizations WHERE id = @Id", new { Id = id }, cancellationToken: ct));
}
