// Guarantee: one authorization per Idempotency-Key, even under concurrent identical requests (unique insert);
// a replay returns the stored result, a reused key with a different body is refused.
using System.Net;
using System.Net.Http.Json;
using static ReliableShop.Payment.Tests.PaymentRequests;

[assembly: AssemblyFixture(typeof(ReliableShop.Payment.Tests.SharedPaymentApp))]

namespace ReliableShop.Payment.Tests;

public sealed class AuthorizationIdempotencyTests(SharedPaymentApp shared)
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Authorize_NewKey_Returns201WithLocation()
    {
        var orderId = Guid.NewGuid();
        using var response = await shared.Client.SendAsync(Authorize(NewKey(), Body(orderId, 12.34m)), ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var authorization = await response.Content.ReadFromJsonAsync<AuthorizationDto>(ct);
        Assert.Equal((orderId, 12.34m, "EUR", "authorized"), (authorization!.OrderId, authorization.Amount, authorization.Currency, authorization.Status));
        Assert.Equal($"/api/payments/authorizations/{authorization.Id}", response.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Authorize_ReplaySameKeySameBody_Returns200SameAuthorization()
    {
        var (key, orderId) = (NewKey(), Guid.NewGuid());
        using var first = await shared.Client.SendAsync(Authorize(key, Body(orderId)), ct);
        using var replay = await shared.Client.SendAsync(Authorize(key, Body(orderId)), ct);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(await first.Content.ReadFromJsonAsync<AuthorizationDto>(ct), await replay.Content.ReadFromJsonAsync<AuthorizationDto>(ct));
    }

    [Fact]
    public async Task Authorize_SameKeyDifferentBody_Returns422AndKeepsFirst()
    {
        var (key, orderId) = (NewKey(), Guid.NewGuid());
        using var first = await shared.Client.SendAsync(Authorize(key, Body(orderId, 10m)), ct);
        using var second = await shared.Client.SendAsync(Authorize(key, Body(orderId, 11m)), ct);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, second.StatusCode);
        Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await shared.App.CountAsync("SELECT count(*) FROM authorizations WHERE order_id = $1", orderId));
    }

    [Fact]
    public async Task Authorize_50ConcurrentIdenticalRequests_OneRowAndOneId()
    {
        var (key, orderId) = (NewKey(), Guid.NewGuid());

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var response = await shared.Client.SendAsync(Authorize(key, Body(orderId)), ct);
            return (response.StatusCode, (await response.Content.ReadFromJsonAsync<AuthorizationDto>(ct))!.Id);
        }));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(49, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Single(responses.Select(r => r.Id).Distinct());
        Assert.Equal(1, await shared.App.CountAsync("SELECT count(*) FROM authorizations WHERE idempotency_key = $1", key));
    }
}
