// The benchmark command works: its quick mode runs B1–B10 against the real servers and every row gets a number.
// Never asserts speed — benchmarks are not tests (docs/benchmarks.md); a slow shared machine must not fail CI.
using System.Diagnostics;
using System.Text.RegularExpressions;
using ReliableShop.TestServers;

namespace ReliableShop.Benchmarks.Tests;

public sealed partial class QuickBenchmarkTests
{
    private static readonly string[] Rows = ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10"];

    [Fact]
    public async Task QuickMode_AllRows_ProduceNumbers()
    {
        var ct = TestContext.Current.CancellationToken;
        var root = Servers.RepositoryRoot();
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        var dll = Path.Combine(root, "bench", "Benchmarks", "bin", configuration, "net10.0", "Benchmarks.dll");
        var output = Path.Combine(Path.GetTempPath(), $"benchmarks-quick-{Guid.NewGuid():N}.md");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { dll, "--quick", "--out", output }) start.ArgumentList.Add(argument);
        // The same servers the other tests use (RELIABLESHOP_* are inherited); the benchmark uses its own databases and vhost.
        start.Environment["RELIABLESHOP_POSTGRES"] = await Servers.PostgresAsync();
        start.Environment["RELIABLESHOP_REDIS"] = await Servers.RedisAsync();
        start.Environment["RELIABLESHOP_RABBITMQ"] = await Servers.RabbitMqAsync();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var log = await stdout + await stderr;
        TestContext.Current.TestOutputHelper?.WriteLine(log);
        Assert.True(process.ExitCode == 0, $"benchmark exited {process.ExitCode}:\n{log}");

        var page = await File.ReadAllTextAsync(output, ct);
        // Only the results table: the page's "what limits each row" table starts its lines with "| B1 |" too.
        var results = page.IndexOf("## Results", StringComparison.Ordinal);
        var charts = page.IndexOf("## Charts", StringComparison.Ordinal);
        Assert.True(results >= 0 && charts > results, $"no results section:\n{page}");
        var table = page[results..charts];
        foreach (var id in Rows)
        {
            var lines = table.Split('\n').Where(l => l.StartsWith($"| {id} |", StringComparison.Ordinal)).ToList();
            Assert.True(lines.Count > 0, $"row {id} missing:\n{table}");
            Assert.All(lines, line => Assert.Matches(Ours(), line));
        }
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(output)!, "benchmarks-queue.png")), "queue chart missing");
    }

    // | B1 | what | 1,234 unit | — the "Ours" cell starts with a number.
    [GeneratedRegex(@"^\| B\d+ \| [^|]+ \| [0-9][0-9,.]* ")]
    private static partial Regex Ours();
}
