// The one source of truth for failure-mode states, shared by every service and replica: a table in the `control`
// database, reached through its own tiny pool so it still answers when a service's main pool is exhausted, and
// independent of Redis and RabbitMQ so a flip works while either is down. Every write bumps one global version and
// NOTIFYs; every replica reloads on the signal (or on its 1 s poll) — a flip is everywhere within 2 s.
using System.Text.Json;
using Npgsql;

namespace ReliableShop.FailureModes;

public sealed class FailureModeStore(NpgsqlDataSource control)
{
    public const string Channel = "reliableshop_failure_modes";

    public const string Schema = """
        CREATE TABLE IF NOT EXISTS failure_modes (
            id          text PRIMARY KEY,
            state       text NOT NULL CHECK (state IN ('off', 'reproduce', 'contain')),
            parameters  jsonb NOT NULL DEFAULT '{}',
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        -- One row: the global version. Transactional (unlike a sequence), so a reader never sees a new version with
        -- old rows; its row lock also serialises writers.
        CREATE TABLE IF NOT EXISTS failure_modes_version (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version   bigint NOT NULL
        );
        INSERT INTO failure_modes_version (version) VALUES (0) ON CONFLICT DO NOTHING;
        """;

    public async Task<FailureModeSnapshot> LoadAsync(CancellationToken ct)
    {
        await using var connection = await control.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        // Version and rows from one snapshot: a reader never pairs a new version with old rows.
        long version;
        await using (var v = new NpgsqlCommand("SELECT version FROM failure_modes_version", connection, tx))
        {
            version = (long)(await v.ExecuteScalarAsync(ct))!;
        }
        var active = new List<ActiveFailureMode>();
        await using (var rows = new NpgsqlCommand("SELECT id, state, parameters::text, updated_at FROM failure_modes WHERE state <> 'off'", connection, tx))
        await using (var reader = await rows.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                var definition = FailureModeCatalog.Find(reader.GetString(0));
                if (definition is null) continue; // a mode removed from the catalogue
                var parameters = FailureModeSnapshot.Defaults(definition);
                foreach (var (name, value) in JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(2)) ?? [])
                {
                    if (definition.Parameter(name) is not null) parameters[name] = value;
                }
                active.Add(new(definition.Id, Enum.Parse<FailureModeState>(reader.GetString(1), ignoreCase: true), parameters,
                    reader.GetFieldValue<DateTimeOffset>(3)));
            }
        }
        await tx.CommitAsync(ct);
        return new FailureModeSnapshot(version, active);
    }

    /// <summary>Sets one mode (already validated against the catalogue) and signals every replica.</summary>
    public Task SetAsync(string id, FailureModeState state, IReadOnlyDictionary<string, double> overrides, CancellationToken ct) =>
        WriteAsync("""
            INSERT INTO failure_modes (id, state, parameters, updated_at) VALUES ($1, $2, $3::jsonb, now())
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, parameters = excluded.parameters, updated_at = now()
            """, ct, id, state.ToString().ToLowerInvariant(), JsonSerializer.Serialize(overrides));

    public Task ResetAsync(CancellationToken ct) =>
        WriteAsync("UPDATE failure_modes SET state = 'off', parameters = '{}', updated_at = now() WHERE state <> 'off'", ct);

    private async Task WriteAsync(string sql, CancellationToken ct, params object[] parameters)
    {
        await using var connection = await control.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var write = new NpgsqlCommand(sql, connection, tx))
        {
            foreach (var p in parameters) write.Parameters.AddWithValue(p);
            await write.ExecuteNonQueryAsync(ct);
        }
        // The version bump and the NOTIFY commit with the change: replicas see both or neither.
        await using (var bump = new NpgsqlCommand($"UPDATE failure_modes_version SET version = version + 1; NOTIFY {Channel};", connection, tx))
        {
            await bump.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }
}
