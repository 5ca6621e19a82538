// Guarantee: the capacity model follows the toggles and the admin API at runtime — timeouts-cascade / pool-exhaustion
// set the service time, retry-storm cuts the slots to capacityFraction, PUT /admin/capacity changes the configured
// size (validated, 400 naming the field), and switching a mode off restores the configured capacity.
using System.Net;
using System.Net.Http.Json;

namespace ReliableShop.Payment.Tests;

public sealed class CapacityFaultTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("timeouts-cascade", "reproduce", "paymentServiceTimeMs", 300, 10, 300)]
    [InlineData("pool-exhaustion", "contain", "paymentServiceTimeMs", 700, 10, 700)]
    [InlineData("retry-storm", "reproduce", "capacityFraction", 0.33, 3, 5)]
    [InlineData("retry-storm", "contain", "capacityFraction", 0.05, 1, 5)]
    public async Task Capacity_ModeOnThenOff_ModelFollowsAndReturnsToConfigured(
        string mode, string state, string parameter, double value, int slots, double serviceTimeMs)
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "10"), ("Capacity:ServiceTimeMs", "5"));
        using var admin = app.CreateAdminClient();

        await app.SetModeAsync(admin, mode, state, new Dictionary<string, double> { [parameter] = value });
        var during = (await admin.StatsAsync()).Capacity;
        (await admin.DeleteAsync($"/admin/failure-modes/{mode}", ct)).EnsureSuccessStatusCode();
        var after = (await admin.StatsAsync()).Capacity;

        Assert.Equal((slots, serviceTimeMs), (during.Slots, during.ServiceTimeMs));
        Assert.Equal((10, 5.0), (after.Slots, after.ServiceTimeMs));
    }

    [Fact]
    public async Task PutCapacity_NewSize_AppliedAndRetryStormCutsTheNewSize()
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "10"));
        using var admin = app.CreateAdminClient();

        using var put = await admin.PutAsJsonAsync("/admin/capacity", new { slots = 6, serviceTimeMs = 20 }, ct);
        var applied = await put.Content.ReadFromJsonAsync<CapacityDto>(ct);
        await app.SetModeAsync(admin, "retry-storm", "reproduce", new { capacityFraction = 0.5 });
        var cut = (await admin.StatsAsync()).Capacity;

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal((6, 20.0), (applied!.Slots, applied.ServiceTimeMs));
        Assert.Equal((3, 20.0), (cut.Slots, cut.ServiceTimeMs));
        // What a caller that changed the capacity for a while must restore is the configured size, not the cut.
        Assert.Equal((6, 20.0), (cut.Configured.Slots, cut.Configured.ServiceTimeMs));
    }

    [Theory]
    [InlineData("""{"slots":0}""", "slots")]
    [InlineData("""{"slots":1001}""", "slots")]
    [InlineData("""{"serviceTimeMs":-1}""", "serviceTimeMs")]
    [InlineData("""{"serviceTimeMs":60001}""", "serviceTimeMs")]
    [InlineData("""{}""", "body")]
    public async Task PutCapacity_Invalid_Returns400NamingTheFieldAndChangesNothing(string body, string field)
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "10"));
        using var admin = app.CreateAdminClient();

        using var response = await admin.PutAsync("/admin/capacity", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal([field], (await response.Content.ReadFromJsonAsync<ValidationProblemDto>(ct))!.Errors.Keys);
        Assert.Equal(10, (await admin.StatsAsync()).Capacity.Slots);
    }

    [Fact]
    public async Task PutCapacity_WithoutAdminKey_Returns401()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var client = app.CreateClient();

        using var response = await client.PutAsJsonAsync("/admin/capacity", new { slots = 2 }, ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private sealed record ValidationProblemDto(int Status, Dictionary<string, string[]> Errors);
}
