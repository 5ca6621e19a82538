// Admission control: with one permit and no queue, a second concurrent POST is shed at once with 503 + Retry-After
// while the first waits on Payment — and reads (GET /api/orders/{id}) are not behind the limiter.
using System.Net;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class AdmissionTests
{
    [Fact]
    public async Task Place_PermitsExhausted_Returns503WithRetryAfterWhileReadsStillAnswer()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Admission:PermitLimit"] = "1",
            ["Admission:QueueLimit"] = "0",
            ["Admission:RetryAfterSeconds"] = "2",
            // the held authorization must outlast this test's steps, not time out underneath it
            ["Resilience:Payment:AttemptTimeout"] = "00:00:30",
            ["Resilience:Payment:TotalTimeout"] = "00:01:00",
            ["Resilience:Payment:SamplingDuration"] = "00:01:00",
            ["Orders:RequestDeadline"] = "00:01:00",
        });
        using var client = app.Start();
        using var existing = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0010", 1)));
        var existingId = (await existing.JsonAsync()).GetProperty("id").GetGuid();

        var entered = app.Payment.HoldAuthorizations();
        var holding = client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0011", 1)));
        await entered.WaitAsync(TimeSpan.FromSeconds(10), Requests.Ct); // it holds the only permit now

        using var shed = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0012", 1)));
        using var read = await client.GetAsync($"/api/orders/{existingId}", Requests.Ct);
        app.Payment.Release();
        using var held = await holding.WaitAsync(TimeSpan.FromSeconds(30), Requests.Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, shed.StatusCode);
        Assert.Equal("2", shed.Headers.GetValues("Retry-After").Single());
        Assert.Equal("application/problem+json", shed.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Created, held.StatusCode);
        using var stats = await client.AdminGetAsync("/admin/stats");
        var ordering = (await stats.JsonAsync()).GetProperty("ordering");
        Assert.Equal(1, ordering.GetProperty("admissionRejected").GetInt64());
        // The refusal was timed at the door, arrival to answer (its 20 ms bound is the overload drill's to judge, not a
        // timing assertion here).
        var admission = ordering.GetProperty("admission");
        Assert.True(admission.GetProperty("shedMaxMs").GetDouble() > 0, admission.ToString());
        Assert.InRange(admission.GetProperty("shedsOver20Ms").GetInt64(), 0, 1); // it counts refusals: at most the one there was
    }

    [Fact]
    public async Task OverloadReproduce_NoLimiterAtTheDoor_ConcurrentPostIsAdmittedPastThePermits()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Admission:PermitLimit"] = "1",
            ["Admission:QueueLimit"] = "0",
            ["Resilience:Payment:AttemptTimeout"] = "00:00:30",
            ["Resilience:Payment:TotalTimeout"] = "00:01:00",
            ["Resilience:Payment:SamplingDuration"] = "00:01:00",
            ["Orders:RequestDeadline"] = "00:01:00",
        });
        using var client = app.Start();
        await client.SetModeAsync("overload", "reproduce");

        var entered = app.Payment.HoldAuthorizations();
        var holding = client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0013", 1)));
        await entered.WaitAsync(TimeSpan.FromSeconds(10), Requests.Ct);
        var second = client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0014", 1)));
        // Admitted (no limiter): it reaches Payment too, where it waits behind the hold like the first.
        await Eventually.WaitAsync(() => Task.FromResult(app.Payment.AuthorizeAttempts), n => n >= 2, TimeSpan.FromSeconds(10),
            "the second placement reached Payment");
        app.Payment.Release();

        using var first = await holding.WaitAsync(TimeSpan.FromSeconds(30), Requests.Ct);
        using var admitted = await second.WaitAsync(TimeSpan.FromSeconds(30), Requests.Ct);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, admitted.StatusCode);
        using var stats = await client.AdminGetAsync("/admin/stats");
        var ordering = (await stats.JsonAsync()).GetProperty("ordering");
        Assert.Equal(0, ordering.GetProperty("admissionRejected").GetInt64());
        Assert.Equal(2, ordering.GetProperty("admission").GetProperty("writesInFlightMax").GetInt64());
    }
}
