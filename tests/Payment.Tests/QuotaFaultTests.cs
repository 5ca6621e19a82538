// Guarantee: scaling-plateau's global quota caps what gets through — above paymentQuotaPerSecond a call gets 429 with
// Retry-After ≥ 1 s, and the quota refills with time (a FakeTimeProvider: the burst is not racing a real clock).
using System.Net;

namespace ReliableShop.Payment.Tests;

public sealed class QuotaFaultTests
{
    [Fact]
    public async Task Authorize_ScalingPlateauQuota5Burst20_5SucceedRest429WithRetryAfterAndQuotaRefills()
    {
        var clock = PaymentAdmin.FakeClock();
        await using var app = (await PaymentApp.CreateAsync(("Capacity:ServiceTimeMs", "0"))).WithFakeClock(clock);
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "scaling-plateau", "reproduce", new { paymentQuotaPerSecond = 5, paymentServiceTimeMs = 0 }); // the quota alone: no slowed charge on a fake clock

        var burst = await BurstAsync(admin, 20);
        clock.Advance(TimeSpan.FromSeconds(1));
        var next = await BurstAsync(admin, 20);

        Assert.Equal(5, burst.Count(r => r.Status == HttpStatusCode.Created));
        Assert.All(burst.Where(r => r.Status != HttpStatusCode.Created), r =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r.Status);
            Assert.True(r.RetryAfter >= TimeSpan.FromSeconds(1), $"Retry-After {r.RetryAfter}");
        });
        Assert.Equal(5, next.Count(r => r.Status == HttpStatusCode.Created)); // one second refills the 5 tokens
        Assert.Equal(30, (await admin.StatsAsync()).Faults["quota429"]);
    }

    private static async Task<(HttpStatusCode Status, TimeSpan? RetryAfter)[]> BurstAsync(HttpClient client, int calls) =>
        await Task.WhenAll(Enumerable.Range(0, calls).Select(async _ =>
        {
            using var response = await client.AuthorizeAsync();
            return (response.StatusCode, response.Headers.RetryAfter?.Delta);
        }));
}
