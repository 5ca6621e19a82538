// Where PostgreSQL, Redis and RabbitMQ come from. ReliableShop:Infrastructure = auto | containers | local.
//   containers: Aspire container resources (a developer laptop with Docker and an image registry).
//   local:      servers already running on this machine (infra/local-servers.sh), reached by connection strings
//               from RELIABLESHOP_POSTGRES / RELIABLESHOP_REDIS / RELIABLESHOP_RABBITMQ or the script's defaults.
//   auto:       local when RELIABLESHOP_POSTGRES is set or Docker cannot run; containers otherwise.
// Either way the services see the same connection names: orders, inventory, payments, control (the failure-mode
// store every service shares), redis, messaging. Database resources are named "<name>-db" (a resource name is unique,
// and "inventory" is the service); AppHost.cs passes them under the plain connection name.
using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace ReliableShop.AppHost;

internal sealed record ReliableShopInfrastructure(
    IResourceBuilder<IResourceWithConnectionString> Orders,
    IResourceBuilder<IResourceWithConnectionString> Inventory,
    IResourceBuilder<IResourceWithConnectionString> Payments,
    IResourceBuilder<IResourceWithConnectionString> Control,
    IResourceBuilder<IResourceWithConnectionString> Redis,
    IResourceBuilder<IResourceWithConnectionString> Messaging);

internal static class InfrastructureExtensions
{
    // The defaults of infra/local-servers.sh: loopback-only development servers.
    private const string LocalPostgres = "Host=127.0.0.1;Port=5432;Username=reliableshop;Password=reliableshop-local";
    private const string LocalRedis = "127.0.0.1:6379";
    private const string LocalRabbitMq = "amqp://guest:guest@127.0.0.1:5672/";

    public static ReliableShopInfrastructure AddReliableShopInfrastructure(this IDistributedApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var mode = config["ReliableShop:Infrastructure"] ?? "auto";
        // Lets several systems share one server (tests use a fresh prefix per run); databases are "<prefix>orders" etc.
        var prefix = config["ReliableShop:DatabasePrefix"] ?? "";
        var useContainers = mode switch
        {
            "containers" => true,
            "local" => false,
            "auto" => string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RELIABLESHOP_POSTGRES")) && DockerCanRun(),
            _ => throw new InvalidOperationException($"ReliableShop:Infrastructure must be auto, containers or local; got '{mode}'."),
        };
        return useContainers ? AddContainers(builder, prefix) : AddLocal(builder, config, prefix);
    }

    private static ReliableShopInfrastructure AddContainers(IDistributedApplicationBuilder builder, string prefix)
    {
        var postgres = builder.AddPostgres("postgres").WithDataVolume();
        return new(
            postgres.AddDatabase("orders-db", prefix + "orders"),
            postgres.AddDatabase("inventory-db", prefix + "inventory"),
            postgres.AddDatabase("payments-db", prefix + "payments"),
            postgres.AddDatabase("control-db", prefix + "control"),
            builder.AddRedis("redis"),
            builder.AddRabbitMQ("messaging").WithManagementPlugin());
    }

    private static ReliableShopInfrastructure AddLocal(IDistributedApplicationBuilder builder, IConfiguration config, string prefix)
    {
        var postgres = Setting(config, "RELIABLESHOP_POSTGRES", LocalPostgres);
        IResourceBuilder<IResourceWithConnectionString> Database(string name) =>
            builder.AddConnectionString(name + "-db", ReferenceExpression.Create($"{postgres};Database={prefix + name}"));
        var redis = Setting(config, "RELIABLESHOP_REDIS", LocalRedis);
        var rabbit = Setting(config, "RELIABLESHOP_RABBITMQ", LocalRabbitMq);
        return new(
            Database("orders"),
            Database("inventory"),
            Database("payments"),
            Database("control"),
            builder.AddConnectionString("redis", ReferenceExpression.Create($"{redis}")),
            builder.AddConnectionString("messaging", ReferenceExpression.Create($"{rabbit}")));
    }

    private static string Setting(IConfiguration config, string variable, string fallback) =>
        config[variable] is { Length: > 0 } value ? value : fallback;

    private static bool DockerCanRun()
    {
        try
        {
            using var docker = Process.Start(new ProcessStartInfo("docker", "info --format {{.ServerVersion}}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            return docker is not null && docker.WaitForExit(5000) && docker.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no docker client at all
        }
    }
}
