// Guarantee: bad input is refused with 400 ProblemDetails naming the field, before anything is queued or written.
using System.Net;
using System.Net.Http.Json;
using System.Text;
using static ReliableShop.Payment.Tests.PaymentRequests;

namespace ReliableShop.Payment.Tests;

public sealed class AuthorizationValidationTests(SharedPaymentApp shared)
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    public static TheoryData<string, string?, decimal, string> BadInputs => new()
    {
        { "Idempotency-Key", null, 10m, "EUR" },
        { "Idempotency-Key", "has space", 10m, "EUR" },
        { "Idempotency-Key", new string('k', 101), 10m, "EUR" },
        { "amount", "valid-key", 0m, "EUR" },
        { "amount", "valid-key", -5m, "EUR" },
        { "amount", "valid-key", 1_000_000.01m, "EUR" },
        { "amount", "valid-key", 1.001m, "EUR" },
        { "currency", "valid-key", 10m, "eur" },
        { "currency", "valid-key", 10m, "EURO" },
        { "currency", "valid-key", 10m, "" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Authorize_BadInput_Returns400NamingFieldAndWritesNothing(string field, string? key, decimal amount, string currency)
    {
        var orderId = Guid.NewGuid();
        var uniqueKey = key == "valid-key" ? NewKey() : key;

        using var response = await shared.Client.SendAsync(Authorize(uniqueKey, Body(orderId, amount, currency)), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<ValidationProblemDto>(ct);
        Assert.Equal([field], problem!.Errors.Keys);
        Assert.Equal(0, await shared.App.CountAsync("SELECT count(*) FROM authorizations WHERE order_id = $1", orderId));
    }

    [Fact]
    public async Task Authorize_MissingOrderId_Returns400NamingOrderId()
    {
        using var response = await shared.Client.SendAsync(Authorize(NewKey(), new { amount = 1m, currency = "EUR" }), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("orderId", (await response.Content.ReadFromJsonAsync<ValidationProblemDto>(ct))!.Errors.Keys);
    }

    [Fact]
    public async Task Authorize_MalformedJson_Returns400ProblemAndWritesNothing()
    {
        var key = NewKey();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/payments/authorizations")
        {
            Content = new StringContent("{\"orderId\": \"not-json", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", key);

        using var response = await shared.Client.SendAsync(request, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await shared.App.CountAsync("SELECT count(*) FROM authorizations WHERE idempotency_key = $1", key));
    }

    private sealed record ValidationProblemDto(int Status, Dictionary<string, string[]> Errors);
}
