// Guarantee: timeouts-cascade decides whether Payment honours a caller that gave up. reproduce: the abandoned charge
// keeps its slot for the whole service time and still commits (the article's abandoned work); contain: the slot is
// freed at once and nothing is written.
using System.Diagnostics;
using ReliableShop.TestServers;
using static ReliableShop.Payment.Tests.PaymentRequests;

namespace ReliableShop.Payment.Tests;

public sealed class CancellationFaultTests
{
    private const int ServiceTimeMs = 3000;

    [Fact]
    public async Task Authorize_TimeoutsCascadeReproduceCallerCancels_SlotHeldForServiceTimeAndChargeCommits()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "timeouts-cascade", "reproduce", new { paymentServiceTimeMs = ServiceTimeMs });
        var orderId = Guid.NewGuid();

        var call = await CancelWhileInServiceAsync(admin, orderId);
        // The caller is gone; its work is not: the slot stays held (contain frees it within this window, see below).
        await Consistently.HoldsAsync(admin.StatsAsync, s => s.Capacity.InUse == 1, TimeSpan.FromSeconds(1), "abandoned charge still in service");

        await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.InUse == 0, TimeSpan.FromSeconds(15), "abandoned slot released");
        await Eventually.WaitAsync(() => app.CountAsync("SELECT count(*) FROM authorizations WHERE order_id = $1", orderId),
            n => n == 1, TimeSpan.FromSeconds(10), "abandoned charge committed");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.Response);
    }

    [Fact]
    public async Task Authorize_TimeoutsCascadeContainCallerCancels_SlotFreedAtOnceAndNothingWritten()
    {
        await using var app = await PaymentApp.CreateAsync();
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "timeouts-cascade", "contain", new { paymentServiceTimeMs = ServiceTimeMs });
        var orderId = Guid.NewGuid();

        var call = await CancelWhileInServiceAsync(admin, orderId);
        await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.InUse == 0, TimeSpan.FromSeconds(1), "slot freed on cancel");

        Assert.True(call.SinceCancel.ElapsedMilliseconds < ServiceTimeMs, $"freed {call.SinceCancel.ElapsedMilliseconds} ms after the cancel");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.Response);
        Assert.Equal(0, await app.CountAsync("SELECT count(*) FROM authorizations WHERE order_id = $1", orderId));
    }

    /// <summary>Sends a charge, waits until it holds a slot, then cancels it client-side (the test host's client
    /// call may only end once the server is done with the request, so it is returned, not awaited).</summary>
    private static async Task<(Task<HttpResponseMessage> Response, Stopwatch SinceCancel)> CancelWhileInServiceAsync(HttpClient client, Guid orderId)
    {
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var call = client.SendAsync(Authorize(NewKey(), Body(orderId)), caller.Token);
        await Eventually.WaitAsync(client.StatsAsync, s => s.Capacity.InUse == 1, TimeSpan.FromSeconds(10), "charge in service");
        var sinceCancel = Stopwatch.StartNew();
        await caller.CancelAsync();
        return (call, sinceCancel);
    }
}
