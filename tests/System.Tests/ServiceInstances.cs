// Every running instance (replica) of this test run's services, addressed directly rather than through Aspire's
// proxy: found by process name, told apart from other runs by the database prefix in their environment.
using System.Diagnostics;

namespace ReliableShop.SystemTests;

public sealed record ServiceInstance(string Service, int ProcessId, Uri BaseAddress);

public static class ServiceInstances
{
    private static readonly string[] Services = ["Ordering", "Inventory", "Payment"];

    public static List<ServiceInstance> Find(string databasePrefix)
    {
        var found = new List<ServiceInstance>();
        foreach (var process in Process.GetProcesses())
        {
            var environment = ReadEnvironment(process.Id);
            if (environment is null || !Services.Contains(process.ProcessName)) continue;
            if (!environment.Values.Any(v => v.Contains($"Database={databasePrefix}", StringComparison.Ordinal))) continue;
            if (!environment.TryGetValue("ASPNETCORE_URLS", out var urls)) continue;
            var http = urls.Split(';').First(u => u.StartsWith("http://", StringComparison.Ordinal));
            found.Add(new(process.ProcessName.ToLowerInvariant(), process.Id, new Uri(http.Replace("+", "localhost", StringComparison.Ordinal))));
        }
        return found;
    }

    private static Dictionary<string, string>? ReadEnvironment(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
                .Select(e => e.Split('=', 2)).Where(p => p.Length == 2)
                .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
