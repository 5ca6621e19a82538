// The system's invariants as the running system computes them: GET {ordering}/admin/invariants (SQL per service plus
// the cross-service checks, services/*/Invariants). Every count must be zero after settling. Also SQL helpers that
// tests use to read (or deliberately corrupt) the three databases directly.
using System.Text.Json;
using Npgsql;

namespace ReliableShop.SystemTests;

/// <param name="Violations">"ordering.unsettledOrders", "inventory.oversoldSkus", "phantomReservations", … → count.</param>
public sealed record InvariantReport(long Total, IReadOnlyDictionary<string, long> Violations)
{
    public bool AllZero => Total == 0;

    /// <summary>Only the non-zero counts, e.g. {"inventory.oversoldSkus": 1}.</summary>
    public IReadOnlyDictionary<string, long> NonZero => Violations.Where(v => v.Value != 0).ToDictionary(v => v.Key, v => v.Value);

    public override string ToString() =>
        $"invariants: total {Total}" + (AllZero ? "" : ": " + string.Join(", ", NonZero.Select(v => $"{v.Key}={v.Value}")));
}

public static class Invariants
{
    /// <summary>
    /// The system view from Ordering. settleSeconds = 0 (default here) counts every order still in flight as unsettled,
    /// so callers poll with Eventually until the system converges; a real violation never converges.
    /// </summary>
    public static async Task<InvariantReport> CheckAsync(SystemFixture system, CancellationToken ct, int settleSeconds = 0)
    {
        using var json = JsonDocument.Parse(await system.Ordering.GetStringAsync($"/admin/invariants?settleSeconds={settleSeconds}", ct));
        var violations = json.RootElement.GetProperty("violations").EnumerateObject().ToDictionary(v => v.Name, v => v.Value.GetInt64());
        return new InvariantReport(json.RootElement.GetProperty("total").GetInt64(), violations);
    }

    public static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql, CancellationToken ct, params object[] parameters)
    {
        await using var command = db.CreateCommand(sql);
        foreach (var parameter in parameters) command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<List<T>> QueryAsync<T>(NpgsqlDataSource db, string sql, Func<NpgsqlDataReader, T> map, CancellationToken ct)
    {
        await using var command = db.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await reader.ReadAsync(ct)) list.Add(map(reader));
        return list;
    }
}
