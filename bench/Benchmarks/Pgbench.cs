// The database's own limit: pgbench running a script of the same SQL, at a given connection count, prepared statements
// (-M prepared: the best the engine does; our Npgsql code does not prepare, which is part of what the ratio shows).
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace ReliableShop.Benchmarks;

internal static partial class Pgbench
{
    /// <returns>Transactions per second (pgbench's "without initial connection time" figure).</returns>
    public static async Task<double> RunAsync(BenchEnvironment env, string connectionString, string script, int clients, int transactionsPerClient)
    {
        var file = Path.Combine(env.ArtifactsDir, $"pgbench-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(file, script);
        try
        {
            var cs = new NpgsqlConnectionStringBuilder(connectionString);
            var output = await BenchEnvironment.RunToolAsync("pgbench",
                ["-n", "-M", "prepared", "-f", file, "-c", $"{clients}", "-j", $"{clients}", "-t", $"{transactionsPerClient}",
                 "-h", cs.Host ?? "127.0.0.1", "-p", $"{cs.Port}", "-U", cs.Username ?? "postgres", cs.Database ?? "postgres"],
                new Dictionary<string, string> { ["PGPASSWORD"] = cs.Password ?? "" });
            var match = Tps().Match(output);
            return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
                : throw new InvalidOperationException("pgbench printed no tps: " + output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex Tps();
}
