// Ordering's data source with its pool sized by the fleet connection budget (ServiceDefaults/Database/ConnectionBudget.cs):
// Max Pool Size = ConnectionBudget:ServiceBudget ÷ ConnectionBudget:Replicas, and a startup check that fails the service
// when Σ(pool × replicas) + reserve exceeds the server's max_connections. Doc: docs/failure-modes/scaling-plateau.md
using Microsoft.Extensions.Options;
using Npgsql;

namespace ReliableShop.Ordering.Database;

public static class BudgetedDataSource
{
    /// <summary>
    /// AddNpgsqlDataSource with the pool sized ServiceBudget ÷ Replicas, and a startup check that fails the service when
    /// the fleet's pools cannot fit the server's max_connections.
    /// </summary>
    public static IHostApplicationBuilder AddBudgetedNpgsqlDataSource(this IHostApplicationBuilder builder, string connectionName)
    {
        builder.Services.AddValidatedOptions<ConnectionBudgetOptions>(ConnectionBudgetOptions.SectionName);
        var budget = builder.Configuration.GetSection(ConnectionBudgetOptions.SectionName).Get<ConnectionBudgetOptions>() ?? new();
        builder.AddNpgsqlDataSource(connectionName, configureDataSourceBuilder: data =>
            data.ConnectionStringBuilder.MaxPoolSize = budget.PoolSizePerReplica);
        builder.Services.AddHostedService(sp => new ConnectionBudgetCheck(connectionName, sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<IOptions<ConnectionBudgetOptions>>().Value, sp.GetRequiredService<ILogger<ConnectionBudgetCheck>>()));
        return builder;
    }
}
