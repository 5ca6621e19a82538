// Guarantee (issue "toggles", #4): the latency parameters change what a client observes — a slow Payment is slow.
// timeouts-cascade and pool-exhaustion set the service time; load-only-bugs adds tail latency to a share of calls.
using System.Diagnostics;
using System.Net;

namespace ReliableShop.Payment.Tests;

public sealed class LatencyFaultTests
{
    [Fact]
    public async Task Authorize_TimeoutsCascadeServiceTime300Ms_TakesAtLeast300Ms()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "timeouts-cascade", "contain", new { paymentServiceTimeMs = 300 });

        var elapsed = Stopwatch.StartNew();
        using var response = await admin.AuthorizeAsync();
        elapsed.Stop();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.True(elapsed.ElapsedMilliseconds >= 300, $"took {elapsed.ElapsedMilliseconds} ms"); // lower bound only
        Assert.Equal(300, (await admin.StatsAsync()).Capacity.ServiceTimeMs);
    }

    [Fact]
    public async Task Authorize_LoadOnlyBugsTailOnEveryCall_TakesAtLeastTailLatencyAndCountsIt()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "load-only-bugs", "reproduce", new { tailLatencyPercent = 100, tailLatencyMs = 300 });

        var elapsed = Stopwatch.StartNew();
        using var response = await admin.AuthorizeAsync();
        elapsed.Stop();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.True(elapsed.ElapsedMilliseconds >= 300, $"took {elapsed.ElapsedMilliseconds} ms");
        Assert.Equal(1, (await admin.StatsAsync()).Faults["latency"]);
    }

    [Fact]
    public async Task Authorize_LoadOnlyBugsTailOnNoCall_NoLatencyInjected()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "load-only-bugs", "reproduce", new { tailLatencyPercent = 0, tailLatencyMs = 30000 });

        using var response = await admin.AuthorizeAsync(); // would take 30 s if the tail were injected

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(0, (await admin.StatsAsync()).Faults["latency"]);
    }
}
