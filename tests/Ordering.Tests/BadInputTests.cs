// Every bad input is a 400 ProblemDetails naming the field — and nothing is written (no order, no outbox row) and
// nothing reaches Payment. One app (and database) for the class: no other test writes to it.
using System.Net;

namespace ReliableShop.Ordering.Tests;

public sealed class BadInputFixture : AppFixture;

public sealed class BadInputTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    private static readonly string ValidBody = Requests.Body(("SKU-0001", 1));

    public static TheoryData<string, string?, string?, string> Cases => new()
    {
        // case name, Idempotency-Key, body, errors key expected
        { "malformed JSON", "k-1", """{"customerId":"c-1","items":[""", "body" },
        { "missing body", "k-2", null, "body" },
        { "JSON null body", "k-3", "null", "body" },
        { "missing key", null, ValidBody, "Idempotency-Key" },
        { "key with a space", "bad key", ValidBody, "Idempotency-Key" },
        { "key of 101 chars", new string('k', 101), ValidBody, "Idempotency-Key" },
        { "items missing", "k-4", """{"customerId":"c-1"}""", "items" },
        { "items empty", "k-5", """{"customerId":"c-1","items":[]}""", "items" },
        { "more than MaxLines (20) lines", "k-6", Requests.Body([.. Enumerable.Range(1, 21).Select(i => ($"SKU-{i:0000}", 1))]), "items" },
        { "quantity 0", "k-7", Requests.Body(("SKU-0001", 0)), "items[0].quantity" },
        { "quantity negative", "k-8", Requests.Body(("SKU-0001", -3)), "items[0].quantity" },
        { "quantity above MaxQuantityPerLine (1000)", "k-9", Requests.Body(("SKU-0001", 1001)), "items[0].quantity" },
        { "quantity not a number", "k-10", """{"customerId":"c-1","items":[{"sku":"SKU-0001","quantity":"two"}]}""", "items[0].quantity" },
        { "duplicate SKU", "k-11", Requests.Body(("SKU-0001", 1), ("SKU-0001", 2)), "items[1].sku" },
        { "sku missing", "k-12", """{"customerId":"c-1","items":[{"quantity":1}]}""", "items[0].sku" },
        { "sku blank", "k-13", Requests.Body(("   ", 1)), "items[0].sku" },
        { "unknown SKU", "k-14", Requests.Body(("SKU-0001", 1), ("NOPE-1", 1)), "items[1].sku" },
        { "body over MaxBodyBytes (16 KiB)", "k-15", $$"""{"customerId":"{{new string('c', 17 * 1024)}}","items":[]}""", "body" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Place_BadInput_Returns400NamingTheFieldAndWritesNothing(string name, string? key, string? body, string field)
    {
        using var response = await fixture.Client.PlaceAsync(key, body);

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Requests.Ct)}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.JsonAsync()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"{name}: expected errors[\"{field}\"] in {errors}");
        Assert.Equal(0L, await Db.ScalarAsync<long>(fixture.App.ConnectionString, "SELECT count(*) FROM orders"));
        Assert.Equal(0L, await Db.ScalarAsync<long>(fixture.App.ConnectionString, "SELECT count(*) FROM outbox_messages"));
        Assert.Equal(0, fixture.App.Payment.AuthorizeAttempts);
    }
}
