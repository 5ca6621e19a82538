// Test helpers for Payment's admin surface: switch failure modes through PUT /admin/failure-modes/{id} (the real
// API, on the test's own control database) and read the "payment" section of GET /admin/stats.
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ReliableShop.FailureModes;
using ReliableShop.Payment.Faults;

namespace ReliableShop.Payment.Tests;

public sealed record AttemptCountsDto(long First, long Retry);

public sealed record RequestCountsDto(long First, long Retry, Dictionary<string, AttemptCountsDto> ByOperation);

public sealed record CapacityDto(int Slots, double ServiceTimeMs, int InUse, int Queued, ConfiguredCapacityDto Configured);

public sealed record ConfiguredCapacityDto(int Slots, double ServiceTimeMs);

public sealed record ChargeCountsDto(long Answered, long Abandoned);

public sealed record PaymentStatsDto(
    RequestCountsDto Requests, Dictionary<string, long> Faults, long ProviderRetries, ChargeCountsDto Charges, CapacityDto Capacity);

public static class PaymentAdmin
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    /// <summary>A clock one hour behind real time, so it can be set forward to any failure mode's Since.</summary>
    public static FakeTimeProvider FakeClock() => new(DateTimeOffset.UtcNow.AddHours(-1));

    /// <summary>Uses <paramref name="clock"/> as the host's TimeProvider and a seeded Random for the faults.</summary>
    public static PaymentApp WithFakeClock(this PaymentApp app, FakeTimeProvider clock) => app.WithServices(services =>
    {
        services.AddSingleton<TimeProvider>(clock);
        services.AddKeyedSingleton(PaymentFaults.RandomKey, new Random(42));
    });

    /// <summary>Sets a mode via the admin API; returns it as this replica now sees it (with its Since).</summary>
    public static async Task<ActiveFailureMode> SetModeAsync(this PaymentApp app, HttpClient admin, string id, string state, object? parameters = null)
    {
        using var response = await admin.PutAsJsonAsync($"/admin/failure-modes/{id}",
            new { state, parameters = parameters ?? new { } }, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"PUT {id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
        var mode = app.Services.GetRequiredService<FailureModeToggles>()[id];
        Assert.Equal(state, mode.State.ToString(), ignoreCase: true);
        return mode;
    }

    public static async Task<PaymentStatsDto> StatsAsync(this HttpClient admin)
    {
        using var body = JsonDocument.Parse(await admin.GetStringAsync("/admin/stats", TestContext.Current.CancellationToken));
        return body.RootElement.GetProperty("payment").Deserialize<PaymentStatsDto>(Web)!;
    }

    public static async Task ResetStatsAsync(this HttpClient admin)
    {
        using var response = await admin.PostAsync("/admin/stats/reset", null, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>A new charge (fresh key and order), as attempt <paramref name="attempt"/> of its caller (no X-Attempt when null).</summary>
    public static Task<HttpResponseMessage> AuthorizeAsync(this HttpClient client, int? attempt = null) =>
        client.AuthorizeCancellableAsync(attempt, TestContext.Current.CancellationToken);

    /// <summary>As <see cref="AuthorizeAsync"/>, for a caller that gives up when <paramref name="caller"/> is cancelled.</summary>
    public static async Task<HttpResponseMessage> AuthorizeCancellableAsync(this HttpClient client, int? attempt, CancellationToken caller)
    {
        using var request = PaymentRequests.Authorize(PaymentRequests.NewKey(), PaymentRequests.Body(Guid.NewGuid()));
        if (attempt is { } n) request.Headers.Add("X-Attempt", n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return await client.SendAsync(request, caller);
    }
}
