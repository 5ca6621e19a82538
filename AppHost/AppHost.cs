// ReliableShop's AppHost: three services, their databases, the catalog cache and the broker, wired in one place.
// Infrastructure comes two ways (see Infrastructure.cs): Aspire containers where Docker runs, or the locally installed
// servers of infra/local-servers.sh. Docs: docs/architecture.md.
using Microsoft.Extensions.Configuration;
using ReliableShop.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

// Generated per run and never stored: services require it on /admin; k6 users read it from the console.
var adminKey = builder.AddParameter("admin-key",
    new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: false);

var infra = builder.AddReliableShopInfrastructure();

var payment = builder.AddProject<Projects.Payment>("payment")
    .WithHttpHealthCheck("/health")
    .WithReference(infra.Payments, "payments").WaitFor(infra.Payments)
    .WithReference(infra.Control, "control").WaitFor(infra.Control)
    .WithEnvironment("Admin__Key", adminKey)
    .WithFailureModeCommands(adminKey);

var inventory = builder.AddProject<Projects.Inventory>("inventory")
    .WithHttpHealthCheck("/health")
    .WithReference(infra.Inventory, "inventory").WaitFor(infra.Inventory)
    .WithReference(infra.Redis)
    .WithReference(infra.Messaging)
    .WithReference(infra.Control, "control").WaitFor(infra.Control)
    .WithEnvironment("Admin__Key", adminKey)
    .WithFailureModeCommands(adminKey);

builder.AddProject<Projects.Ordering>("ordering")
    .WithHttpHealthCheck("/health")
    .WithReference(infra.Orders, "orders").WaitFor(infra.Orders)
    .WithReference(infra.Messaging)
    .WithReference(inventory).WaitFor(inventory)
    .WithReference(payment).WaitFor(payment)
    .WithReference(infra.Control, "control").WaitFor(infra.Control)
    .WithEnvironment("Admin__Key", adminKey)
    .WithReplicas(builder.Configuration.GetValue("ReliableShop:OrderingReplicas", 1))
    .WithEnvironment("ConnectionBudget__Replicas", builder.Configuration.GetValue("ReliableShop:OrderingReplicas", 1).ToString(System.Globalization.CultureInfo.InvariantCulture))
    .WithFailureModeCommands(adminKey);

builder.PrintAdminKeyForK6(adminKey);

builder.Build().Run();
