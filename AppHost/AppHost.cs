// ReliableShop's AppHost: three services, their databases, the catalog cache and the broker, wired in one place.
// Infrastructure comes two ways (see Infrastructure.cs): Aspire containers where Docker runs, or the locally installed
// servers of infra/local-servers.sh. Docs: docs/architecture.md.
using ReliableShop.AppHost;

var builder = DistributedApplication.CreateBuilder(args);

// Generated per run and never stored: services require it on /admin; k6 users read it from the console.
var adminKey = builder.AddParameter("admin-key",
    new GenerateParameterDefault { MinLength = 32, Special = false }, secret: true, persist: false);

var infra = builder.AddReliableShopInfrastructure();

var payment = builder.AddProject<Projects.Payment>("payment")
    .WithReference(infra.Payments).WaitFor(infra.Payments)
    .WithEnvironment("Admin__Key", adminKey);

var inventory = builder.AddProject<Projects.Inventory>("inventory")
    .WithReference(infra.Inventory).WaitFor(infra.Inventory)
    .WithReference(infra.Redis)
    .WithReference(infra.Messaging)
    .WithEnvironment("Admin__Key", adminKey);

builder.AddProject<Projects.Ordering>("ordering")
    .WithReference(infra.Orders).WaitFor(infra.Orders)
    .WithReference(infra.Messaging)
    .WithReference(inventory).WaitFor(inventory)
    .WithReference(payment).WaitFor(payment)
    .WithEnvironment("Admin__Key", adminKey)
    .WithReplicas(builder.Configuration.GetValue("ReliableShop:OrderingReplicas", 1));

builder.PrintAdminKeyForK6(adminKey);

builder.Build().Run();
