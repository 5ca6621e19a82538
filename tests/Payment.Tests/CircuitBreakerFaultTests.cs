// Guarantee: circuit-breaker's phases are what a client sees — hard down (503 at once, no capacity slot taken) for
// downSeconds after the toggle, then a brown-out: brownoutLatencyMs more latency and brownoutErrorRate 503s.
using System.Diagnostics;
using System.Net;
using ReliableShop.Payment.Capacity;
using ReliableShop.TestServers;

namespace ReliableShop.Payment.Tests;

public sealed class CircuitBreakerFaultTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Authorize_CircuitBreakerDownPhase_503AtOnceWithoutTakingASlot()
    {
        var clock = PaymentAdmin.FakeClock();
        await using var app = (await PaymentApp.CreateAsync(("Capacity:ServiceTimeMs", "1000"))).WithFakeClock(clock);
        using var admin = app.CreateAdminClient();
        var slotsTaken = 0;
        using var listener = app.Listen(l => l.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            if (instrument.Name == CapacityMetrics.QueueWaitName) Interlocked.Increment(ref slotsTaken);
        }));
        var mode = await app.SetModeAsync(admin, "circuit-breaker", "reproduce", new { downSeconds = 5 });
        clock.SetUtcNow(mode.Since.AddSeconds(4));

        var elapsed = Stopwatch.StartNew();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var response = await admin.AuthorizeAsync();
            return (response.StatusCode, response.Headers.RetryAfter?.Delta);
        }));

        Assert.All(statuses, s => Assert.Equal((HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(1)), s));
        Assert.True(elapsed.ElapsedMilliseconds < 1000, $"10 calls took {elapsed.ElapsedMilliseconds} ms"); // the 1 s service time never ran
        Assert.Equal(0, Volatile.Read(ref slotsTaken));
        var stats = await admin.StatsAsync();
        Assert.Equal((10, 0, 0), (stats.Faults["down"], stats.Capacity.InUse, stats.Capacity.Queued));
    }

    [Theory]
    [InlineData(0.0, HttpStatusCode.Created)]
    [InlineData(1.0, HttpStatusCode.ServiceUnavailable)]
    public async Task Authorize_CircuitBreakerAfterDownSeconds_BrownoutLatencyThenErrorRate(double errorRate, HttpStatusCode expected)
    {
        var clock = PaymentAdmin.FakeClock();
        await using var app = (await PaymentApp.CreateAsync(("Capacity:ServiceTimeMs", "0"))).WithFakeClock(clock);
        using var admin = app.CreateAdminClient();
        var mode = await app.SetModeAsync(admin, "circuit-breaker", "contain",
            new { downSeconds = 5, brownoutLatencyMs = 2000, brownoutErrorRate = errorRate });
        clock.SetUtcNow(mode.Since.AddSeconds(5));

        var call = admin.AuthorizeAsync();
        await Eventually.WaitAsync(admin.StatsAsync, s => s.Faults["latency"] == 1, TimeSpan.FromSeconds(10), "brown-out latency started");
        clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(call.IsCompleted, "answered before the brown-out latency elapsed");
        clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await call.WaitAsync(TimeSpan.FromSeconds(10), ct);

        Assert.Equal(expected, response.StatusCode);
        var faults = (await admin.StatsAsync()).Faults;
        Assert.Equal((0, errorRate > 0 ? 1 : 0), (faults["down"], faults["error503"]));
    }
}
