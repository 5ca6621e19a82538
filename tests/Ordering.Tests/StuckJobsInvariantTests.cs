// ordering.stuckJobs on real PostgreSQL: a queued job overdue by more than 60 s is work nobody does — unless its kind is
// paced (Jobs:KindRatePerSecond) and the backlog ahead of it explains the wait at the fleet's rate.
using Npgsql;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Database;
using ReliableShop.Ordering.Fulfilment;
using ReliableShop.Ordering.Invariants;
using ReliableShop.Outbox;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class StuckJobsInvariantTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StuckJobs_PacedBacklogDrainingAtItsRate_OnlyTheJobsItShouldHaveReachedCount()
    {
        var db = await Servers.CreateDatabaseAsync("stuckjobs");
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync(Ct);
        // The tables every Ordering invariant reads (CheckAsync runs them all).
        foreach (var sql in new[] { OrderingSchema.OrdersSql, OutboxSchema.Sql, JobsSchema.Sql, OrderingSchema.PaymentPendingSql, OrderConfirmations.Sql })
        {
            await using var schema = new NpgsqlCommand(sql, connection);
            await schema.ExecuteNonQueryAsync(Ct);
        }
        // One transaction: now() is its start for every statement, so "70 s ago" is exact in each check.
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        // 100 authorize jobs and 1 capture, all due 70 s ago: 10 s past the 60 s grace.
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO jobs (kind, payload, run_at)
            SELECT 'authorize-payment', '{}'::jsonb, now() - interval '70 seconds' FROM generate_series(1, 100)
            UNION ALL SELECT 'capture-payment', '{}'::jsonb, now() - interval '70 seconds'
            """, connection)) await insert.ExecuteNonQueryAsync(Ct);

        // Unpaced, every overdue job is stuck.
        var unpaced = await OrderingInvariants.CheckAsync(connection, DateTimeOffset.UtcNow, 5, new Dictionary<string, double>(), Ct);
        Assert.Equal(101, unpaced["stuckJobs"]);

        // At 6 a second across the fleet, 10 s past the grace the drain should have reached the first 60 authorize jobs
        // (the n-th, from 0, is allowed n ÷ 6 s more: 59 ÷ 6 < 10 ≤ 60 ÷ 6); the capture job is not paced.
        var paced = await OrderingInvariants.CheckAsync(connection, DateTimeOffset.UtcNow, 5, new Dictionary<string, double> { ["authorize-payment"] = 6 }, Ct);
        Assert.Equal(61, paced["stuckJobs"]);
    }
}
