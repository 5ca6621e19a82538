// A built service (bin/Release of services/X) started as its own process on a loopback port, with the connection
// strings the AppHost would pass. Its console goes to artifacts/bench/<name>.log. Disposed = killed.
using System.Diagnostics;
using System.Net.Http.Json;

namespace ReliableShop.Benchmarks;

internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process process;

    private ServiceProcess(string name, Process process, int port, string adminKey)
    {
        (Name, this.process) = (name, process);
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        Client.DefaultRequestHeaders.Add("X-Admin-Key", adminKey);
    }

    public string Name { get; }
    public Uri BaseAddress { get; }

    /// <summary>Admin-keyed client for setup calls (not for load).</summary>
    public HttpClient Client { get; }

    public static async Task<ServiceProcess> StartAsync(
        BenchEnvironment env, string name, string dll, IDictionary<string, string> environment, string adminKey)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Admin__Key"] = adminKey;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{name} did not start");
        var log = new StreamWriter(Path.Combine(env.ArtifactsDir, $"{name}.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(name, process, port, adminKey);
        await service.WaitHealthyAsync();
        return service;
    }

    public static string ServiceDll(BenchEnvironment env, string service) =>
        Path.Combine(env.RepositoryRoot, "services", service, "bin", "Release", "net10.0", service + ".dll");

    public async Task PutJsonAsync(string path, object body)
    {
        using var response = await Client.PutAsJsonAsync(path, body);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT {Name}{path} → {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private async Task WaitHealthyAsync()
    {
        var timeout = Stopwatch.StartNew();
        while (timeout.Elapsed < TimeSpan.FromSeconds(90))
        {
            if (process.HasExited) throw new InvalidOperationException($"{Name} exited with {process.ExitCode}; see artifacts/bench/{Name}.log");
            try
            {
                using var response = await Client.GetAsync("/health");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{Name} not healthy after 90 s; see artifacts/bench/{Name}.log");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}
