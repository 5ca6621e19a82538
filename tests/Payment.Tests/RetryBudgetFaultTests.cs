// Guarantee: retry-budget's phases are what a client sees — every call fails fast (503, no Retry-After: a failure, not a request for time) for
// outageSeconds after the toggle, then errorRateAfter of calls fail at random. Phases move on a FakeTimeProvider.
using System.Diagnostics;
using System.Net;

namespace ReliableShop.Payment.Tests;

public sealed class RetryBudgetFaultTests
{
    [Fact]
    public async Task Authorize_RetryBudgetDuringOutage_EveryCall503FastWithoutRetryAfter()
    {
        var clock = PaymentAdmin.FakeClock();
        // 1 s of service time on a clock that never moves by itself: a call that reached a slot would never answer.
        await using var app = (await PaymentApp.CreateAsync(("Capacity:ServiceTimeMs", "1000"))).WithFakeClock(clock);
        using var admin = app.CreateAdminClient();
        var mode = await app.SetModeAsync(admin, "retry-budget", "reproduce", new { outageSeconds = 1, errorRateAfter = 0.0 });
        clock.SetUtcNow(mode.Since.AddMilliseconds(500));

        for (var i = 0; i < 20; i++)
        {
            var elapsed = Stopwatch.StartNew();
            using var response = await admin.AuthorizeAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Null(response.Headers.RetryAfter);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.True(elapsed.ElapsedMilliseconds < 1000, $"call {i} took {elapsed.ElapsedMilliseconds} ms");
        }
        Assert.Equal(20, (await admin.StatsAsync()).Faults["error503"]);
    }

    [Fact]
    public async Task Authorize_RetryBudgetAfterOutage_503ShareMatchesErrorRateAfter()
    {
        var clock = PaymentAdmin.FakeClock();
        await using var app = (await PaymentApp.CreateAsync(("Capacity:ServiceTimeMs", "0"))).WithFakeClock(clock);
        using var admin = app.CreateAdminClient();
        var mode = await app.SetModeAsync(admin, "retry-budget", "contain", new { outageSeconds = 1, errorRateAfter = 0.2 });
        clock.SetUtcNow(mode.Since.AddSeconds(2));

        var statuses = new List<HttpStatusCode>();
        foreach (var batch in Enumerable.Range(0, 1000).Chunk(25))
        {
            statuses.AddRange(await Task.WhenAll(batch.Select(async _ =>
            {
                using var response = await admin.AuthorizeAsync();
                return response.StatusCode;
            })));
        }

        var share = statuses.Count(s => s == HttpStatusCode.ServiceUnavailable) / 1000.0;
        TestContext.Current.TestOutputHelper?.WriteLine($"503 share {share:P1} over 1,000 calls (errorRateAfter 20 %)");
        Assert.InRange(share, 0.15, 0.25);
        Assert.Equal(1000, statuses.Count(s => s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable));
    }
}
