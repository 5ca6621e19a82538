// Per-client resilience: each dependency has its own pipeline. Payment failing opens Payment's breaker only —
// Inventory calls keep flowing; and a retried attempt is visible to the server as X-Attempt: 2.
using System.Net;

namespace ReliableShop.Ordering.Tests;

public sealed class ResilienceTests
{
    [Fact]
    public async Task PaymentDown_OpensPaymentBreakerOnly_InventoryStillCalled()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Resilience:Payment:MinimumThroughput"] = "4",
            ["Resilience:Payment:MaxRetryAttempts"] = "1",
            ["Resilience:Payment:RetryBaseDelay"] = "00:00:00.010",
            ["Resilience:Payment:BreakDuration"] = "00:05:00",
        });
        using var client = app.Start();
        app.Payment.Down = true;

        string? reason = null;
        for (var i = 0; i < 10 && reason != "circuit-open"; i++)
        {
            using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0020", 1)));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            reason = (await response.JsonAsync()).GetProperty("reason").GetString();
        }
        Assert.Equal("circuit-open", reason);

        var (inventoryBefore, paymentBefore) = (app.Inventory.Calls, app.Payment.AuthorizeAttempts);
        using var shortCircuited = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0021", 1)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, shortCircuited.StatusCode);
        Assert.True(shortCircuited.Headers.Contains("Retry-After"));
        Assert.Equal(inventoryBefore + 1, app.Inventory.Calls);          // Inventory's breaker is closed: the call went out
        Assert.Equal(paymentBefore, app.Payment.AuthorizeAttempts);       // Payment's is open: nothing reached Payment
        using var stats = await client.AdminGetAsync("/admin/stats");
        var dependencies = (await stats.JsonAsync()).GetProperty("ordering").GetProperty("dependencies");
        Assert.Equal("Open", dependencies.GetProperty("payment").GetProperty("breakerState").GetString());
        Assert.Equal("Closed", dependencies.GetProperty("inventory").GetProperty("breakerState").GetString());
        Assert.Equal(0, await Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders"));
    }

    [Fact]
    public async Task PaymentTransientFailure_RetriesWithAttemptHeaderAndPlacesOnce()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Resilience:Payment:RetryBaseDelay"] = "00:00:00.010",
        });
        using var client = app.Start();
        app.Payment.FailNext(1);

        using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0030", 1)));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(new[] { "1", "2" }, app.Payment.AttemptHeaders);
        Assert.Equal(1, app.Payment.Authorizations);
        using var stats = await client.AdminGetAsync("/admin/stats");
        var payment = (await stats.JsonAsync()).GetProperty("ordering").GetProperty("dependencies").GetProperty("payment");
        Assert.Equal(1, payment.GetProperty("requests").GetInt64());
        Assert.Equal(2, payment.GetProperty("attempts").GetInt64());
    }
}
