// The load generator itself must be trustworthy before any drill number is: against a stub that always takes 50 ms it
// must offer the rate it was asked for and report the latency the stub has (issue: toggles & harness, acceptance 7).
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ReliableShop.SystemTests.Drills;

public sealed class OpenLoopLoadTests(ITestOutputHelper output)
{
    [Fact]
    public void Schedule_ConstantAndRampingStages_OffersTheIntegralOfTheRate()
    {
        var constant = OpenLoopLoad.Schedule([LoadStage.Constant(200, TimeSpan.FromSeconds(10))]);
        var ramp = OpenLoopLoad.Schedule([new LoadStage(TimeSpan.FromSeconds(10), 0, 100)]);

        Assert.Equal(2000, constant.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(5), constant[0]);
        Assert.Equal(500, ramp.Count); // ∫0..10 10t dt = 500
        Assert.True(ramp[249] < TimeSpan.FromSeconds(7.1) && ramp[249] > TimeSpan.FromSeconds(7.0)); // 5t² = 250 ⇒ t ≈ 7.07
    }

    [Fact]
    public async Task RunAsync_StubWith50msDelayAt200Rps_ReportsRateAndLatency()
    {
        await using var stub = await StartStubAsync(TimeSpan.FromMilliseconds(50));
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000 }) { BaseAddress = stub.Address };

        var report = await OpenLoopLoad.RunAsync("stub 200 rps",
            new LoadOptions([LoadStage.Constant(200, TimeSpan.FromSeconds(10))], Slo: TimeSpan.FromSeconds(1)),
            async (_, ct) => (await client.GetAsync("/", ct)).StatusCode == HttpStatusCode.OK ? Outcome.Success : Outcome.Error,
            TestContext.Current.CancellationToken);

        output.WriteLine(LoadReport.Header);
        output.WriteLine(report.ToString());
        Assert.Equal(0, report.Dropped);
        Assert.Equal(0, report.Errors);
        Assert.InRange(report.AchievedRps, 190, 210);
        Assert.InRange(report.P50Ms, 50, 70);
    }

    private sealed record Stub(WebApplication App, Uri Address) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }

    private static async Task<Stub> StartStubAsync(TimeSpan delay)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/", async () => { await Task.Delay(delay); return "ok"; });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new(app, new Uri(address));
    }
}
