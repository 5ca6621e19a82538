// GET /admin/stats: {"service": "...", "<section>": {...}, ...} · POST /admin/stats/reset: zero every section's counts.
// The sections are read at once, each within SectionDeadline: a section that needs a database connection (outbox, jobs)
// must not hold the whole answer — nor the drill that polls it — while the pool it would report on is starved. A section
// that does not answer in time, or fails, reads {"unavailable": "<why>"}; the others are still there.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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

    /// <summary>How long one section may take; a pool wait or a slow query beyond it makes the section unavailable.</summary>
    public static readonly TimeSpan SectionDeadline = TimeSpan.FromSeconds(2);

    private static async Task<Ok<Dictionary<string, object>>> ReadAsync(
        IEnumerable<IDrillStatsSource> sources, IHostEnvironment environment, ILoggerFactory loggers, CancellationToken ct)
    {
        var logger = loggers.CreateLogger(typeof(DrillStatsExtensions));
        var sections = await Task.WhenAll(sources.Select(async source => (source.Section, Value: await ReadSectionAsync(source, logger, ct))));
        var body = new Dictionary<string, object> { ["service"] = environment.ApplicationName.ToLowerInvariant() };
        foreach (var (section, value) in sections)
        {
            body[section] = value;
        }
        return TypedResults.Ok(body);
    }

    private static async Task<object> ReadSectionAsync(IDrillStatsSource source, ILogger logger, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(SectionDeadline);
        try
        {
            // WaitAsync too: a source that ignores its token still cannot hold the answer past the deadline.
            return await source.ReadAsync(deadline.Token).WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            logger.LogWarning("Stats section {Section} gave no answer within {Deadline}", source.Section, SectionDeadline);
            return new UnavailableSection($"no answer within {SectionDeadline.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Stats section {Section} failed", source.Section);
            return new UnavailableSection($"{e.GetType().Name}: {e.Message}");
        }
    }

    private sealed record UnavailableSection(string Unavailable);
}
