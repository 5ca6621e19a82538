// scaling-plateau: PostgreSQL's max_connections is ONE budget for the whole fleet, but every replica sizes its own pool
// as if it were alone — add replicas and the pools' sum passes the server's limit ("too many clients already") long
// before any replica is busy. The control: a service declares its fleet-wide budget, each replica's pool is
// budget ÷ replicas, and the service REFUSES TO START when Σ(pool size × replicas) + reserve exceeds max_connections,
// naming the numbers. Doc: docs/failure-modes/scaling-plateau.md
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>Section "ConnectionBudget". Per-replica pool = ServiceBudget ÷ Replicas (at least 1).</summary>
public sealed class ConnectionBudgetOptions
{
    public const string SectionName = "ConnectionBudget";

    /// <summary>Connections this service may hold on the server, all replicas together.</summary>
    [Range(1, 10_000)]
    public int ServiceBudget { get; set; } = 100;

    /// <summary>Replicas of this service (the AppHost sets it from ReliableShop:OrderingReplicas).</summary>
    [Range(1, 1_000)]
    public int Replicas { get; set; } = 1;

    /// <summary>Connections the rest of the fleet may hold on the same server (other services' pools, the control store).</summary>
    [Range(0, 10_000)]
    public int OtherServices { get; set; } = 150;

    /// <summary>Kept free: superuser_reserved_connections, migrations, an operator's psql.</summary>
    [Range(0, 10_000)]
    public int Reserve { get; set; } = 10;

    public int PoolSizePerReplica => Math.Max(1, ServiceBudget / Replicas);
}

/// <summary>One pool as the fleet runs it: <paramref name="PoolSize"/> connections in each of <paramref name="Replicas"/> processes.</summary>
public sealed record FleetPool(string Name, int PoolSize, int Replicas)
{
    public int Connections => PoolSize * Replicas;
}

public static class ConnectionBudget
{
    /// <summary>Null when the fleet fits the server; otherwise why not, with every number in the sum.</summary>
    public static string? Check(IReadOnlyList<FleetPool> fleet, int reserve, int maxConnections)
    {
        var total = fleet.Sum(p => p.Connections) + reserve;
        if (total <= maxConnections) return null;
        var terms = string.Join(" + ", fleet.Select(p => $"{p.Name} {p.PoolSize}×{p.Replicas}"));
        return $"Connection budget exceeded: {terms} + reserve {reserve} = {total} > max_connections {maxConnections}. " +
               "Lower the pools (ConnectionBudget:ServiceBudget is divided by ConnectionBudget:Replicas) or raise the server's max_connections.";
    }

    public static IReadOnlyList<FleetPool> Fleet(string service, ConnectionBudgetOptions options) =>
        [new(service, options.PoolSizePerReplica, options.Replicas), new("other services", options.OtherServices, 1)];
}

public sealed class ConnectionBudgetCheck(string service, NpgsqlDataSource db, ConnectionBudgetOptions options, ILogger<ConnectionBudgetCheck> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The service's database may not exist yet (the migrator creates it): ask the maintenance database, with the
        // data source's credentials (its ConnectionString omits the password; a cloned connection keeps it).
        await using var template = db.CreateConnection();
        var maintenance = new NpgsqlConnectionStringBuilder(template.ConnectionString) { Database = "postgres", Pooling = false };
        await using var connection = template.CloneWith(maintenance.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT current_setting('max_connections')::int", connection);
        var maxConnections = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
        var fleet = ConnectionBudget.Fleet(service, options);
        if (ConnectionBudget.Check(fleet, options.Reserve, maxConnections) is { } problem)
        {
            throw new InvalidOperationException(problem);
        }
        logger.LogInformation("Connection budget: {Service} pool {PoolSize} × {Replicas} replicas + others {Others} + reserve {Reserve} ≤ max_connections {Max}",
            service, options.PoolSizePerReplica, options.Replicas, options.OtherServices, options.Reserve, maxConnections);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
