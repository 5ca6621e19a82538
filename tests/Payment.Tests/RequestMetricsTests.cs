// Guarantee: every request received is counted per operation and caller attempt (X-Attempt), so drills can
// compute retry amplification from Payment's side.
using System.Collections.Concurrent;
using ReliableShop.Payment.Telemetry;
using static ReliableShop.Payment.Tests.PaymentRequests;

namespace ReliableShop.Payment.Tests;

public sealed class RequestMetricsTests
{
    [Fact]
    public async Task Requests_WithAndWithoutXAttempt_CountedPerOperationAndAttempt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var app = await PaymentApp.CreateAsync();
        using var client = app.CreateClient();
        var counted = new ConcurrentBag<(string Operation, string Attempt)>();
        using var listener = app.Listen(l => l.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            if (instrument.Name != RequestMetrics.RequestsName) return;
            var all = tags.ToArray().ToDictionary(t => t.Key, t => t.Value as string);
            counted.Add((all["operation"]!, all["attempt"]!));
        }));

        using var first = Authorize(NewKey(), Body(Guid.NewGuid()));
        first.Headers.Add("X-Attempt", "2");
        (await client.SendAsync(first, ct)).Dispose();
        (await client.SendAsync(Authorize(null, Body(Guid.NewGuid())), ct)).Dispose(); // invalid, still counted
        (await client.PostAsync($"/api/payments/authorizations/{Guid.NewGuid()}/capture", null, ct)).Dispose();

        Assert.Equal(
            [("authorize", "2"), ("authorize", "none"), ("capture", "none")],
            counted.OrderBy(c => c.Operation).ThenBy(c => c.Attempt));
    }
}
