// GET /admin/stats: {"service": "...", "<section>": {...}, ...} · POST /admin/stats/reset: zero every section's counts.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Drills;

namespace Microsoft.Extensions.Hosting;

public static class DrillStatsExtensions
{
    public static IServiceCollection AddDrillStatsSource<TSource>(this IServiceCollection services) where TSource : class, IDrillStatsSource =>
        services.AddSingleton<IDrillStatsSource, TSource>();

    /// <summary>A read-only section computed per request, e.g. <c>("outbox", (sp, ct) => sp.GetRequiredService&lt;OutboxAdmin&gt;().GetStatsAsync(ct))</c>.</summary>
    public static IServiceCollection AddDrillStatsSection<T>(this IServiceCollection services, string section, Func<IServiceProvider, CancellationToken, Task<T>> read)
        where T : notnull =>
        services.AddSingleton<IDrillStatsSource>(sp => new DelegateSource(section, async ct => await read(sp, ct)));

    private sealed class DelegateSource(string section, Func<CancellationToken, Task<object>> read) : IDrillStatsSource
    {
        public string Section => section;
        public Task<object> ReadAsync(CancellationToken ct) => read(ct);
    }

    public static RouteGroupBuilder MapDrillStatsAdmin(this IEndpointRouteBuilder app)
    {
        var group = app.MapAdminGroup("/admin/stats");
        group.MapGet("/", ReadAsync);
        group.MapPost("/reset", (IEnumerable<IDrillStatsSource> sources) =>
        {
            foreach (var source in sources) source.Reset();
            return TypedResults.NoContent();
        });
        return group;
    }

    private static async Task<Ok<Dictionary<string, object>>> ReadAsync(
        IEnumerable<IDrillStatsSource> sources, IHostEnvironment environment, CancellationToken ct)
    {
        var body = new Dictionary<string, object> { ["service"] = environment.ApplicationName.ToLowerInvariant() };
        foreach (var source in sources)
        {
            body[source.Section] = await source.ReadAsync(ct);
        }
        return TypedResults.Ok(body);
    }
}
