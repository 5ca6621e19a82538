// Per-client resilience: each dependency has its own pipeline. Payment failing opens Payment's breaker only —
// Inventory calls keep flowing — and orders are accepted as PaymentPending (202), then authorized and placed once
// Payment answers again. In circuit-breaker reproduce the naive pipeline has neither breaker nor fallback. A retried
// attempt is visible to the server as X-Attempt: 2.
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class ResilienceTests
{
    [Fact]
    public async Task PaymentDown_OpensPaymentBreakerOnly_OrdersAcceptedAsPendingThenPlacedWhenPaymentRecovers()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Resilience:Payment:MinimumThroughput"] = "4",
            ["Resilience:Payment:MaxRetryAttempts"] = "1",
            ["Resilience:Payment:RetryBaseDelay"] = "00:00:00.010",
            ["Resilience:Payment:BreakDuration"] = "00:00:01",
            ["Jobs:RetryBaseDelayMs"] = "50",
            ["Jobs:RetryMaxDelayMs"] = "500",
        });
        using var client = app.Start();
        app.Payment.Down = true;

        var accepted = new List<Guid>();
        string? breaker = null;
        for (var i = 0; i < 10 && breaker != "Open"; i++)
        {
            using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0020", 1)));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var order = await response.JsonAsync();
            Assert.Equal("PaymentPending", order.GetProperty("status").GetString());
            accepted.Add(order.GetProperty("id").GetGuid());
            breaker = (await PaymentStatsAsync(client)).GetProperty("breakerState").GetString();
        }
        Assert.Equal("Open", breaker);

        var (inventoryBefore, paymentBefore) = (app.Inventory.Calls, app.Payment.AuthorizeAttempts);
        using var shortCircuited = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0021", 1)));

        Assert.Equal(HttpStatusCode.Accepted, shortCircuited.StatusCode);
        accepted.Add((await shortCircuited.JsonAsync()).GetProperty("id").GetGuid());
        Assert.Equal(inventoryBefore + 1, app.Inventory.Calls);          // Inventory's breaker is closed: the call went out
        using (var stats = await client.AdminGetAsync("/admin/stats"))
        {
            var dependencies = (await stats.JsonAsync()).GetProperty("ordering").GetProperty("dependencies");
            Assert.Equal("Closed", dependencies.GetProperty("inventory").GetProperty("breakerState").GetString());
            Assert.True(dependencies.GetProperty("payment").GetProperty("shortCircuited").GetInt64() >= 1);
        }

        // Payment recovers: every accepted order is authorized once (same payment key) and placed with its OrderPlaced event.
        app.Payment.Down = false;
        await Eventually.WaitAsync(
            () => Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders WHERE status = 'Placed' AND payment_authorization_id IS NOT NULL"),
            placed => placed == accepted.Count, TimeSpan.FromSeconds(30), "every PaymentPending order authorized and placed");
        Assert.Equal(accepted.Count, app.Payment.Authorizations);
        Assert.Equal(accepted.Count, await Db.ScalarAsync<long>(app.ConnectionString,
            "SELECT count(*) FROM outbox_messages WHERE message_type LIKE '%OrderPlaced%'"));
        Assert.True(paymentBefore <= app.Payment.AuthorizeAttempts);
    }

    // The half-open probe is a job's, never a customer's: a placement (it has the fallback) asks the breaker first and,
    // unless it is closed — open, half-open, or open with its break run out, where Polly would make it the probe — is
    // refused before any call, counted as short-circuited, and becomes PaymentPending.
    [Fact]
    public async Task PaymentBreakerNotClosed_PlacementRefusedBeforeAnyCall_CountedAsShortCircuited()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>());
        using var client = app.Start();
        var metrics = app.Services.GetRequiredService<ReliableShop.Ordering.Telemetry.OrderingMetrics>();
        var payment = app.Services.GetRequiredService<ReliableShop.Ordering.Clients.PaymentClient>();

        payment.ThrowIfBreakerNotClosed(); // closed: the call may go out
        foreach (var state in new[] { Polly.CircuitBreaker.CircuitState.Open, Polly.CircuitBreaker.CircuitState.HalfOpen })
        {
            metrics.BreakerChanged(ReliableShop.Ordering.Clients.PaymentClient.Dependency, state);
            var before = (await PaymentStatsAsync(client)).GetProperty("shortCircuited").GetInt64();
            var refused = Assert.Throws<ReliableShop.Ordering.Clients.DependencyUnavailableException>(payment.ThrowIfBreakerNotClosed);
            Assert.Equal("circuit-open", refused.Reason);
            Assert.Equal(before + 1, (await PaymentStatsAsync(client)).GetProperty("shortCircuited").GetInt64());
        }

        // Through the API, with Payment healthy and Polly's breaker closed (only the gate's view says half-open): without
        // the gate this order would be authorized at once (201); with it, it is accepted as PaymentPending and its job
        // authorizes it.
        using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0025", 1)));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    // "0 = no retry" is a valid setting: the pipeline is built without a retry strategy (Polly's requires ≥ 1 attempt),
    // so a failing Payment gets the fallback, not a 500 from building the pipeline.
    [Fact]
    public async Task NoRetriesConfigured_PaymentDown_AcceptedAsPending()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string> { ["Resilience:Payment:MaxRetryAttempts"] = "0" });
        using var client = app.Start();
        app.Payment.Down = true;

        using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0024", 1)));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(0, (await PaymentStatsAsync(client)).GetProperty("retries").GetInt64());
    }

    // The fallback is bounded (Orders:MaxPaymentPending): with the backlog full, a placement Payment cannot take is shed
    // with 503 naming the cause and writes nothing; once the backlog is authorized, the fallback accepts again.
    [Fact]
    public async Task PaymentDown_PendingBacklogFull_ShedsWith503AndWritesNothing_AcceptsAgainOnceDrained()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Orders:MaxPaymentPending"] = "2",
            ["Jobs:RetryBaseDelayMs"] = "50",
            ["Jobs:RetryMaxDelayMs"] = "500",
        });
        using var client = app.Start();
        app.Payment.Down = true;
        for (var i = 0; i < 2; i++)
        {
            using var accepted = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0023", 1)));
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync(Requests.Ct));
        }

        var refusedKey = Requests.NewKey();
        using var refused = await client.PlaceAsync(refusedKey, Requests.Body(("SKU-0023", 1)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        var problem = await refused.JsonAsync();
        Assert.Equal("payment", problem.GetProperty("dependency").GetString());
        Assert.Equal("pending-backlog-full", problem.GetProperty("reason").GetString());
        Assert.Equal(0, await Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders WHERE idempotency_key = $1", refusedKey));
        Assert.Equal(2, await Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders WHERE status = 'PaymentPending'"));
        using (var stats = await client.AdminGetAsync("/admin/stats"))
        {
            Assert.Equal(1, (await stats.JsonAsync()).GetProperty("ordering").GetProperty("paymentPendingRefused").GetInt64());
        }

        app.Payment.Down = false;
        await Eventually.WaitAsync(
            () => Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders WHERE status = 'PaymentPending'"),
            pending => pending == 0, TimeSpan.FromSeconds(30), "the backlog authorized");
        app.Payment.Down = true;
        // The count a replica decides on is at most PaymentPendingBacklog.RefreshInterval (200 ms) old.
        var againKey = Requests.NewKey();
        await Eventually.WaitAsync(async () =>
        {
            using var again = await client.PlaceAsync(againKey, Requests.Body(("SKU-0023", 1)));
            return again.StatusCode;
        }, status => status == HttpStatusCode.Accepted, TimeSpan.FromSeconds(5), "the fallback accepts again once the backlog drained");
    }

    // A placement that could only be refused later is refused first: with every Payment bulkhead permit taken and the
    // backlog full, the 503 comes before Inventory is called; once a permit is free the same request is placed.
    [Fact]
    public async Task PaymentBulkheadFullAndBacklogFull_ShedBeforeAnyDependencyIsCalled()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Orders:MaxPaymentPending"] = "1",
            ["Resilience:Payment:BulkheadPermitLimit"] = "1",
            ["Resilience:Payment:BulkheadQueueLimit"] = "0",
            ["Resilience:Payment:AttemptTimeout"] = "00:00:30",
            ["Resilience:Payment:TotalTimeout"] = "00:00:40",
            ["Resilience:Payment:SamplingDuration"] = "00:01:00",
            ["Orders:RequestDeadline"] = "00:00:45",
        });
        using var client = app.Start();
        var entered = app.Payment.HoldAuthorizations();
        var holding = client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0025", 1)));
        await entered.WaitAsync(TimeSpan.FromSeconds(10), Requests.Ct); // it holds the only Payment permit now
        using (var pending = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0025", 1))))
        {
            Assert.Equal(HttpStatusCode.Accepted, pending.StatusCode); // refused by the bulkhead: the backlog (1) is full now
        }
        var inventoryBefore = app.Inventory.Calls;

        var key = Requests.NewKey();
        using var shed = await client.PlaceAsync(key, Requests.Body(("SKU-0025", 1)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, shed.StatusCode);
        var problem = await shed.JsonAsync();
        Assert.Equal(("payment", "pending-backlog-full"), (problem.GetProperty("dependency").GetString(), problem.GetProperty("reason").GetString()));
        Assert.Equal(inventoryBefore, app.Inventory.Calls); // refused before any dependency was called
        Assert.Equal(0, await Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
        app.Payment.Release();
        using (var held = await holding.WaitAsync(TimeSpan.FromSeconds(30), Requests.Ct))
        {
            Assert.Equal(HttpStatusCode.Created, held.StatusCode);
        }
        // The PaymentPending order's job competes for the one permit: the same request is placed once it gets it.
        await Eventually.WaitAsync(async () =>
        {
            using var again = await client.PlaceAsync(key, Requests.Body(("SKU-0025", 1)));
            return again.StatusCode;
        }, status => status == HttpStatusCode.Created, TimeSpan.FromSeconds(10), "placed once a permit was free");
    }

    [Fact]
    public async Task CircuitBreakerReproduce_PaymentDown_EveryCallPaysAllAttemptsAndGets503()
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string> { ["Resilience:Payment:MinimumThroughput"] = "2" });
        using var client = app.Start();
        await client.SetModeAsync("circuit-breaker", "reproduce"); // the answering instance applies it before it answers
        app.Payment.Down = true;

        for (var i = 0; i < 5; i++)
        {
            var before = app.Payment.AuthorizeAttempts;
            using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0022", 1)));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(4, app.Payment.AuthorizeAttempts - before); // no breaker: 1 + 3 immediate retries, every time
        }
        Assert.Equal(["1", "2", "3", "4"], app.Payment.AttemptHeaders.Take(4));
        Assert.Equal(0, await Db.ScalarAsync<long>(app.ConnectionString, "SELECT count(*) FROM orders"));
    }

    [Theory]
    [InlineData("reproduce")]
    [InlineData("contain")]
    public async Task OverloadedInventory_ReproduceRetriesEveryCallAtOnce_ContainOpensTheBreaker(string state)
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string> { ["Resilience:Inventory:MinimumThroughput"] = "2" });
        using var client = app.Start();
        await client.SetModeAsync("overload", state);
        app.Inventory.Down = true;

        for (var i = 0; i < 6; i++)
        {
            using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0023", 1)));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }
        // reproduce: the naive pipeline, no backpressure — 1 + 3 immediate retries per placement, and no breaker.
        // contain: the protected one — retries within the budget, then the breaker stops the calls.
        if (state == "reproduce") Assert.Equal(6 * 4, app.Inventory.Calls);
        else Assert.True(app.Inventory.Calls < 6 * 2, $"{app.Inventory.Calls} Inventory calls for 6 placements");
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
        var payment = await PaymentStatsAsync(client);
        Assert.Equal(1, payment.GetProperty("requests").GetInt64());
        Assert.Equal(2, payment.GetProperty("attempts").GetInt64());
        Assert.Equal(1, payment.GetProperty("retries").GetInt64());
    }

    // A placement has a fallback, so it does not wait out Payment's Retry-After: past Orders:PaymentRetryWindow the
    // order is accepted as PaymentPending at once and the job (whose retries keep the whole TotalTimeout) authorizes
    // it. A window longer than the Retry-After waits and retries, as a job would.
    [Theory]
    [InlineData("00:00:00.500", HttpStatusCode.Accepted, new[] { "1", "1" })] // the request's one attempt, then the job's
    [InlineData("00:00:03", HttpStatusCode.Created, new[] { "1", "2" })]      // the request's attempt and its retry
    public async Task PaymentAsksToRetryAfter1s_RetriedOnlyWhenTheWindowAllows(string window, HttpStatusCode expected, string[] attempts)
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Orders:PaymentRetryWindow"] = window,
            ["Resilience:Payment:RetryBaseDelay"] = "00:00:00.010",
            ["Jobs:RetryBaseDelayMs"] = "50",
            ["Jobs:RetryMaxDelayMs"] = "500",
        });
        using var client = app.Start();
        app.Payment.FailNext(1, retryAfterSeconds: 1);

        using var response = await client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0031", 1)));

        Assert.Equal(expected, response.StatusCode);
        var id = (await response.JsonAsync()).GetProperty("id").GetGuid();
        await Eventually.WaitAsync(
            () => Db.ScalarAsync<long>(app.ConnectionString, $"SELECT count(*) FROM orders WHERE id = '{id}' AND status = 'Placed' AND payment_authorization_id IS NOT NULL"),
            placed => placed == 1, TimeSpan.FromSeconds(30), "the order authorized and placed");
        Assert.Equal(1, app.Payment.Authorizations);
        // X-Attempt of every authorize Payment saw: with the window, the request never retried (its job's call is a
        // first attempt of its own); with the longer window, the request itself waited out Retry-After and retried.
        Assert.Equal(attempts, app.Payment.AttemptHeaders);
    }

    private static async Task<System.Text.Json.JsonElement> PaymentStatsAsync(HttpClient client)
    {
        using var stats = await client.AdminGetAsync("/admin/stats");
        return (await stats.JsonAsync()).GetProperty("ordering").GetProperty("dependencies").GetProperty("payment");
    }
}
