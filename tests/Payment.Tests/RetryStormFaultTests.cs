// Guarantee: retry-storm's two halves on Payment's side. reproduce: a provider attempt timeout below the latency, and
// Payment retries its own timed-out provider call even when the request is itself a retry (the second retry layer);
// contain: one retry layer (the caller's) — Payment retries nothing and no attempt timeout undercuts the caller, and
// once the queue is as long as the slots, retries are shed first (503 + Retry-After).
using System.Net;
using ReliableShop.TestServers;

namespace ReliableShop.Payment.Tests;

public sealed class RetryStormFaultTests
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(1)]
    [InlineData(2)] // naive: the retry is retried again, (r + 1)² attempts per charge
    public async Task Authorize_ReproduceEveryProviderAttemptTimesOut_RetriedInsidePaymentEvenForARetry(int callerAttempt)
    {
        // Each provider attempt takes 100 ms against a 50 ms attempt timeout: every attempt times out.
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "4"), ("Capacity:ServiceTimeMs", "100"));
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "retry-storm", "reproduce", new { capacityFraction = 1.0, attemptTimeoutMs = 50, retries = 2 });

        using var response = await admin.AuthorizeAsync(callerAttempt);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var stats = await admin.StatsAsync();
        Assert.Equal((2L, 1L), (stats.ProviderRetries, stats.Faults["providerTimeout"]));
        stats = await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.InUse == 0, TimeSpan.FromSeconds(10), "abandoned attempts finished");
        Assert.Equal(new ChargeCountsDto(Answered: 0, Abandoned: 3), stats.Charges); // three charges done, none for anyone
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Authorize_ContainSameSlowProvider_ChargeWaitsForItsSlotAndNothingIsRetriedInsidePayment(int callerAttempt)
    {
        // The same 100 ms provider and 50 ms attemptTimeoutMs: contain does not apply the naive attempt timeout.
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "4"), ("Capacity:ServiceTimeMs", "100"));
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "retry-storm", "contain", new { capacityFraction = 1.0, attemptTimeoutMs = 50, retries = 2 });

        using var response = await admin.AuthorizeAsync(callerAttempt);

        Assert.True(response.IsSuccessStatusCode, $"contain answered {(int)response.StatusCode}");
        var stats = await admin.StatsAsync();
        Assert.Equal((0L, 0L), (stats.ProviderRetries, stats.Faults["providerTimeout"]));
        Assert.Equal(new ChargeCountsDto(Answered: 1, Abandoned: 0), stats.Charges);
    }

    [Fact]
    public async Task Authorize_ReproduceCallerGivesUpInService_ChargeStillDoneAndCountedAbandoned()
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "1"), ("Capacity:ServiceTimeMs", "500"));
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "retry-storm", "reproduce", new { capacityFraction = 1.0, attemptTimeoutMs = 10000, retries = 0 });
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var call = admin.AuthorizeCancellableAsync(1, caller.Token);
        await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.InUse == 1, TimeSpan.FromSeconds(10), "the charge in service");

        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        var stats = await Eventually.WaitAsync(admin.StatsAsync, s => s.Charges.Abandoned == 1, TimeSpan.FromSeconds(10),
            "the naive Payment finished the charge its caller had given up on");
        Assert.Equal(0, stats.Charges.Answered);
    }

    [Theory]
    [InlineData("contain", true)]
    [InlineData("reproduce", false)]
    public async Task Authorize_RetryStormQueueSaturated_RetryShedFirstOnlyInContain(string state, bool shed)
    {
        await using var app = await PaymentApp.CreateAsync(("Capacity:Slots", "1"), ("Capacity:ServiceTimeMs", "5000"));
        using var admin = app.CreateAdminClient();
        await app.SetModeAsync(admin, "retry-storm", state, new { capacityFraction = 1.0, attemptTimeoutMs = 10000, retries = 0 });
        using var callers = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var inService = admin.AuthorizeCancellableAsync(1, callers.Token);
        await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.InUse == 1, TimeSpan.FromSeconds(10), "one charge in service");
        var queued = admin.AuthorizeCancellableAsync(1, callers.Token);
        await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.Queued == 1, TimeSpan.FromSeconds(10), "queue as long as the slots");

        var retry = admin.AuthorizeCancellableAsync(2, callers.Token);
        var firstAttempt = admin.AuthorizeCancellableAsync(1, callers.Token);
        var stats = await Eventually.WaitAsync(admin.StatsAsync, s => s.Capacity.Queued + s.Faults["shedRetry"] == 3,
            TimeSpan.FromSeconds(10), "retry and first attempt arrived");

        Assert.Equal(shed ? 1 : 0, stats.Faults["shedRetry"]);
        Assert.Equal(shed ? 2 : 3, stats.Capacity.Queued); // the first attempt always queues
        if (shed)
        {
            using var response = await retry.WaitAsync(TimeSpan.FromSeconds(5), ct);
            Assert.Equal((HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(1)), (response.StatusCode, response.Headers.RetryAfter?.Delta));
        }
        await callers.CancelAsync(); // contain or off honour the cancellation: the queue empties without waiting 5 s each
        foreach (var call in new[] { inService, queued, firstAttempt }.Concat(shed ? [] : [retry]))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        }
    }
}
