// Guarantee: Payment's /admin/stats section counts what drills compute from — requests per operation split first
// attempt (X-Attempt absent or 1) vs retry, faults by kind — as the reliableshop.payment.* counters do; reset zeroes
// the counts. Reads, /admin and /health never get faults.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using ReliableShop.Payment.Telemetry;

namespace ReliableShop.Payment.Tests;

public sealed class DrillStatsTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stats_AuthorizeCallsFirstAndRetry_CountedSplitAndResetZeroes()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        var exported = new ConcurrentBag<string>();
        using var listener = app.Listen(l => l.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            if (instrument.Name == PaymentStats.RequestsName) exported.Add(tags.ToArray().Single(t => t.Key == "attempt").Value as string ?? "");
        }));

        for (var i = 0; i < 7; i++) (await admin.AuthorizeAsync(1)).Dispose();
        for (var i = 0; i < 2; i++) (await admin.AuthorizeAsync()).Dispose();
        for (var i = 0; i < 3; i++) (await admin.AuthorizeAsync(2)).Dispose();
        var counted = (await admin.StatsAsync()).Requests;
        await admin.ResetStatsAsync();
        var reset = (await admin.StatsAsync()).Requests;

        Assert.Equal((9, 3), (counted.First, counted.Retry));
        Assert.Equal(new AttemptCountsDto(9, 3), counted.ByOperation["authorize"]);
        Assert.Equal((9, 3), (exported.Count(a => a == "first"), exported.Count(a => a == "retry")));
        Assert.Equal((0, 0), (reset.First, reset.Retry));
    }

    [Fact]
    public async Task Stats_NoTraffic_ListsEveryFaultKindAndTheCapacity()
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "7"), ("Capacity:ServiceTimeMs", "40"));
        using var admin = app.CreateAdminClient();

        var stats = await admin.StatsAsync();

        Assert.Equal(["down", "error503", "latency", "providerTimeout", "quota429", "shedRetry"], stats.Faults.Keys.Order());
        Assert.All(stats.Faults.Values, v => Assert.Equal(0, v));
        Assert.Equal(new CapacityDto(7, 40, 0, 0, new ConfiguredCapacityDto(7, 40)), stats.Capacity);
    }

    [Fact]
    public async Task Routes_CircuitBreakerDown_OnlyAuthorizeCaptureVoidGetTheFault()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        using var before = await admin.AuthorizeAsync();
        var id = (await before.Content.ReadFromJsonAsync<AuthorizationDto>(ct))!.Id;
        await app.SetModeAsync(admin, "circuit-breaker", "reproduce", new { downSeconds = 600 });

        using var authorize = await admin.AuthorizeAsync();
        using var capture = await admin.PostAsync($"/api/payments/authorizations/{id}/capture", null, ct);
        using var voided = await admin.PostAsync($"/api/payments/authorizations/{id}/void", null, ct);
        using var read = await admin.GetAsync($"/api/payments/authorizations/{id}", ct);
        using var health = await admin.GetAsync("/health", ct);
        using var capacity = await admin.GetAsync("/admin/capacity", ct);

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable],
            [authorize.StatusCode, capture.StatusCode, voided.StatusCode]);
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], [read.StatusCode, health.StatusCode, capacity.StatusCode]);
        Assert.Equal("Degraded", await health.Content.ReadAsStringAsync(ct)); // the failure-modes entry says a fault is on
        Assert.Equal(3, (await admin.StatsAsync()).Faults["down"]);
    }
}
