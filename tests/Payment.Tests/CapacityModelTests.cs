// Guarantee: the provider never serves more than Slots charges at once; the rest really queue (measured by the
// queue-wait histogram and the in-use gauge, not by wall-clock timing). Bad capacity options stop the host at start.
using System.Collections.Concurrent;
using System.Net;
using ReliableShop.Payment.Capacity;
using static ReliableShop.Payment.Tests.PaymentRequests;

namespace ReliableShop.Payment.Tests;

public sealed class CapacityModelTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Authorize_20ConcurrentWith2SlotsOf100Ms_NeverMoreThan2InServiceAndRequestsQueue()
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "2"), ("Capacity:ServiceTimeMs", "100"));
        using var client = app.CreateClient();
        int inUse = 0, peakInUse = 0;
        var waits = new ConcurrentBag<double>();
        using var listener = app.Listen(l =>
        {
            l.SetMeasurementEventCallback<int>((instrument, delta, _, _) =>
            {
                if (instrument.Name == CapacityMetrics.InUseName)
                {
                    var now = Interlocked.Add(ref inUse, delta);
                    InterlockedMax(ref peakInUse, now);
                }
            });
            l.SetMeasurementEventCallback<double>((instrument, seconds, _, _) =>
            {
                if (instrument.Name == CapacityMetrics.QueueWaitName) waits.Add(seconds);
            });
        });

        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await client.SendAsync(Authorize(NewKey(), Body(Guid.NewGuid())), ct);
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));
        Assert.Equal(2, peakInUse);
        Assert.Equal(20, waits.Count);
        // 20 requests / 2 slots = 10 waves of 100 ms: the last wave waits ≈ 0.9 s and the waits add up to ≈ 9 s.
        // Bounds are loose (arrivals spread on a busy 2-core machine) but far above what no queueing would give (≈ 0).
        Assert.True(waits.Max() >= 0.5, $"longest queue wait {waits.Max():0.000} s");
        Assert.True(waits.Sum() >= 3.0, $"total queue wait {waits.Sum():0.000} s");
    }

    [Theory]
    [InlineData("Capacity:Slotz", "3", "Slotz")]
    [InlineData("Capacity:Slots", "0", "Slots")]
    [InlineData("Capacity:Slots", "1001", "Slots")]
    [InlineData("Capacity:ServiceTimeMs", "-1", "ServiceTimeMs")]
    public async Task Host_BadCapacityOption_FailsToStartNamingTheKey(string key, string value, string named)
    {
        var error = await PaymentApp.RunProgramExpectingFailureAsync((key, value));

        Assert.Contains(named, error.ToString(), StringComparison.Ordinal);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var current = Volatile.Read(ref target); value > current; current = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, current) == current) return;
        }
    }
}
