// Registration of the failure-mode toggles: the shared store (control database), this replica's in-memory snapshot,
// the sync loop, the Degraded health entry and the admin API. Doc: docs/failure-modes/README.md
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ReliableShop.FailureModes;

namespace Microsoft.Extensions.Hosting;

public static class FailureModesExtensions
{
    public static IHostApplicationBuilder AddFailureModes(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ControlDatabase.ConnectionName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ControlDatabase.ConnectionName} is required (the failure-mode store).");
        builder.Services.AddSingleton(_ => ControlDatabase.Create(connectionString));
        builder.Services.AddSingleton(sp => new FailureModeStore(sp.GetRequiredService<ControlDatabase>().DataSource));
        builder.Services.AddSingleton<FailureModeToggles>();
        builder.Services.AddSingleton<FailureModeSync>();
        builder.Services.AddHostedService(sp => new ControlDatabaseMigrator(sp.GetRequiredService<ControlDatabase>(),
            sp.GetRequiredService<FailureModeSync>(), sp.GetRequiredService<ILogger<ControlDatabaseMigrator>>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FailureModeSync>());
        builder.Services.AddHealthChecks().AddCheck<FailureModesHealthCheck>("failure-modes");
        return builder;
    }

    public static RouteGroupBuilder MapFailureModesAdmin(this IEndpointRouteBuilder app) =>
        FailureModesApi.Map(app.MapAdminGroup("/admin/failure-modes"));
}

/// <summary>Creates the control schema before the sync starts, and loads the states once so a restarted replica
/// reports them before it serves its first request.</summary>
internal sealed class ControlDatabaseMigrator(ControlDatabase control, FailureModeSync sync, ILogger<ControlDatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using (var template = control.DataSource.CreateConnection())
        {
            await DatabaseMigrator.EnsureDatabaseExistsAsync(template.ConnectionString, cancellationToken, template.CloneWith);
        }
        await DatabaseMigrator.MigrateAsync(control.DataSource,
            [new SchemaMigration("0001_failure_modes", FailureModeStore.Schema)], logger, cancellationToken);
        await sync.RefreshAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
