// A service with an active failure mode says so: a Degraded entry naming each mode that affects it, so the dashboard
// shows what is broken on purpose.
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace ReliableShop.FailureModes;

internal sealed class FailureModesHealthCheck(FailureModeToggles toggles, IHostEnvironment environment) : IHealthCheck
{
    private readonly string service = environment.ApplicationName.ToLowerInvariant();

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var active = toggles.Current.Active
            .Where(m => FailureModeCatalog.Find(m.Id)!.Services.Contains(service))
            .Select(m => $"{m.Id}={m.State.ToString().ToLowerInvariant()}")
            .ToList();
        return Task.FromResult(active.Count == 0
            ? HealthCheckResult.Healthy("no failure mode active")
            : HealthCheckResult.Degraded("failure modes active on purpose: " + string.Join(", ", active)));
    }
}
