// Guarantee (load-only-bugs, failure-modes.md §7): one order per cart. 50 concurrent submissions of one cart under
// different Idempotency-Keys, with Payment held so every request is inside the race window at once:
// naive (reproduce: SELECT, then INSERT) ⇒ 50 orders; control (contain: cart_claims primary key, duplicates replay
// the stored order) ⇒ 1 order, every answer carries its id. Real PostgreSQL; Payment is the in-test fake.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class CartCheckoutFixture : IAsyncLifetime
{
    public OrderingApp App { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        App = await OrderingApp.CreateAsync(new Dictionary<string, string>
        {
            ["Admission:PermitLimit"] = "200",
            ["Resilience:Payment:BulkheadPermitLimit"] = "200", // all 50 submissions must reach the (held) Payment
        });
        Client = App.Start();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }
}

public sealed class CartCheckoutTests(CartCheckoutFixture fixture) : IClassFixture<CartCheckoutFixture>
{
    private const int Submissions = 50;
    private readonly HttpClient _client = fixture.Client;
    private readonly string _db = fixture.App.ConnectionString;

    [Fact]
    public async Task SameCart50Concurrent_CheckThenInsert_CreatesAnOrderPerSubmission_ClaimCreatesOne()
    {
        await SetModeAsync("reproduce");
        var naive = await BurstAsync(releaseAfter: Submissions);
        await SetModeAsync("contain");
        var contained = await BurstAsync(releaseAfter: 1);
        await SetModeAsync("off");

        Assert.Equal(Submissions, naive.Orders); // every request saw "no order yet": 49 duplicates
        Assert.Equal(1, contained.Orders);
        Assert.All(contained.Answers, a => Assert.Contains(a.Status, new[] { HttpStatusCode.Created, HttpStatusCode.OK }));
        Assert.Single(contained.Answers.Select(a => a.OrderId).Distinct()); // the duplicates replayed the stored order
        Assert.Equal(0L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM cart_claims c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.idempotency_key = c.idempotency_key)"));
    }

    [Fact]
    public async Task Claim_OwnerFailsAtPayment_IsReleased_NextSubmissionPlacesTheOrder()
    {
        await SetModeAsync("contain");
        var cart = "cart-" + Guid.NewGuid().ToString("N");
        fixture.App.Payment.Down = true;
        // No PaymentPending fallback for this request (circuit-breaker reproduce): the owner really fails with 503.
        await _client.SetModeAsync("circuit-breaker", "reproduce");
        try
        {
            using var failed = await _client.SendAsync(Request(cart), Requests.Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }
        finally
        {
            fixture.App.Payment.Down = false;
            await _client.SetModeAsync("circuit-breaker", "off");
        }
        using var placed = await _client.SendAsync(Request(cart), Requests.Ct);
        await SetModeAsync("off");

        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE cart_id = $1", cart));
    }

    private sealed record Answer(HttpStatusCode Status, Guid? OrderId);

    /// <param name="releaseAfter">Payment is released once this many of THIS burst's authorizations wait there (counted from
    /// the burst's start: the fixture's Payment also counts the other tests' calls).</param>
    private async Task<(long Orders, Answer[] Answers)> BurstAsync(int releaseAfter)
    {
        var cart = "cart-" + Guid.NewGuid().ToString("N");
        var entered = fixture.App.Payment.HoldAuthorizations();
        var before = fixture.App.Payment.AuthorizeAttempts;
        var barrier = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var submissions = Enumerable.Range(0, Submissions).Select(_ => Task.Run(async () =>
        {
            await barrier.Task;
            using var response = await _client.SendAsync(Request(cart), Requests.Ct);
            Guid? id = response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>(Requests.Ct)).GetProperty("id").GetGuid() : null;
            return new Answer(response.StatusCode, id);
        })).ToList();
        barrier.SetResult();
        await entered;
        await Eventually.WaitAsync(() => Task.FromResult(fixture.App.Payment.AuthorizeAttempts - before), n => n >= releaseAfter,
            TimeSpan.FromSeconds(30), "authorizations waiting at Payment");
        fixture.App.Payment.Release();
        var answers = await Task.WhenAll(submissions);
        return (await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE cart_id = $1", cart), answers);
    }

    private static HttpRequestMessage Request(string cart)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = JsonContent.Create(new { customerId = "c-1", items = new[] { new { sku = "SKU-0001", quantity = 1 } }, cartId = cart }),
        };
        request.Headers.Add("Idempotency-Key", Requests.NewKey()); // a NEW key per submission: only the cart rule can tell them apart
        return request;
    }

    private async Task SetModeAsync(string state)
    {
        using var admin = new HttpRequestMessage(HttpMethod.Put, "/admin/failure-modes/load-only-bugs") { Content = JsonContent.Create(new { state }) };
        admin.Headers.Add("X-Admin-Key", OrderingApp.AdminKey);
        using var response = await _client.SendAsync(admin, Requests.Ct);
        Assert.True(response.IsSuccessStatusCode, $"PUT load-only-bugs {state}: {(int)response.StatusCode}");
    }
}
