// Every resource's console output (all replicas) copied to artifacts/system-tests/<resource-id>.log, so a failing
// system test can be read after the fact — in CI as well as locally.
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests;

internal static class ResourceLogs
{
    /// <summary>The latest event of every resource instance (replicas have their own ids), by resource id.</summary>
    public static System.Collections.Concurrent.ConcurrentDictionary<string, ResourceEvent> Latest { get; } = new();

    public static string Directory { get; } = Path.Combine(Servers.RepositoryRoot(), "artifacts", "system-tests");

    public static void CopyToFiles(DistributedApplication app, CancellationToken stop)
    {
        global::System.IO.Directory.CreateDirectory(Directory);
        var loggers = app.Services.GetRequiredService<ResourceLoggerService>();
        var watched = new HashSet<string>();
        _ = Task.Run(async () =>
        {
            await foreach (var e in app.ResourceNotifications.WatchAsync(stop))
            {
                Latest[e.ResourceId] = e;
                if (!watched.Add(e.ResourceId)) continue;
                _ = Task.Run(() => CopyAsync(loggers, e.ResourceId, stop), stop);
            }
        }, stop);
    }

    private static async Task CopyAsync(ResourceLoggerService loggers, string resourceId, CancellationToken stop)
    {
        await using var file = new StreamWriter(Path.Combine(Directory, resourceId + ".log"), append: true) { AutoFlush = true };
        try
        {
            await foreach (var batch in loggers.WatchAsync(resourceId).WithCancellation(stop))
            {
                foreach (var line in batch) await file.WriteLineAsync(line.Content);
            }
        }
        catch (OperationCanceledException)
        {
            // the fixture is being disposed
        }
    }
}
