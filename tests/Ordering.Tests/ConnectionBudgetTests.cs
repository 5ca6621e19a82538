// scaling-plateau: the fleet-sizing check is plain arithmetic — tested as such (failure-modes.md §5 "Test note").
using Microsoft.Extensions.Hosting;

namespace ReliableShop.Ordering.Tests;

public sealed class ConnectionBudgetTests
{
    [Fact]
    public void Check_FleetWithinMaxConnections_Passes()
    {
        var options = new ConnectionBudgetOptions { ServiceBudget = 60, Replicas = 3, OtherServices = 100, Reserve = 10 };

        Assert.Equal(20, options.PoolSizePerReplica); // budget ÷ replicas
        Assert.Null(ConnectionBudget.Check(ConnectionBudget.Fleet("orders", options), options.Reserve, maxConnections: 170));
    }

    [Fact]
    public void Check_PoolsSizedPerReplicaAsIfAlone_FailsNamingTheNumbers()
    {
        // The naive sizing: every one of 5 replicas keeps Npgsql's default 100 connections.
        var fleet = new FleetPool[] { new("orders", 100, 5), new("inventory", 100, 1), new("payments", 100, 1) };

        var problem = ConnectionBudget.Check(fleet, reserve: 10, maxConnections: 400);

        Assert.NotNull(problem);
        Assert.Contains("orders 100×5 + inventory 100×1 + payments 100×1 + reserve 10 = 710 > max_connections 400", problem);
    }

    [Fact]
    public void Check_ExactlyAtTheLimit_Passes_OneMoreFails()
    {
        var fits = new FleetPool[] { new("orders", 30, 3), new("other services", 100, 1) };

        Assert.Null(ConnectionBudget.Check(fits, reserve: 10, maxConnections: 200));
        Assert.NotNull(ConnectionBudget.Check(fits, reserve: 11, maxConnections: 200));
    }

    [Fact]
    public void PoolSizePerReplica_MoreReplicasThanBudget_IsAtLeastOne()
    {
        Assert.Equal(1, new ConnectionBudgetOptions { ServiceBudget = 2, Replicas = 5 }.PoolSizePerReplica);
    }
}
