// Guarantee: an authorization is captured at most once (one captures row, even under concurrent captures) and a
// captured authorization cannot be voided, nor a voided one captured.
using System.Net;
using System.Net.Http.Json;
using static ReliableShop.Payment.Tests.PaymentRequests;

namespace ReliableShop.Payment.Tests;

public sealed class CaptureVoidTests(SharedPaymentApp shared)
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Capture_Twice_Returns200TwiceAndOneCaptureRow()
    {
        var id = await AuthorizeAsync();

        using var first = await PostAsync($"{id}/capture");
        using var second = await PostAsync($"{id}/capture");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal("captured", (await second.Content.ReadFromJsonAsync<AuthorizationDto>(ct))!.Status);
        Assert.Equal(1, await shared.App.CountAsync("SELECT count(*) FROM captures WHERE authorization_id = $1", id));
    }

    [Fact]
    public async Task Capture_20Concurrent_OneCaptureRow()
    {
        var id = await AuthorizeAsync();

        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await PostAsync($"{id}/capture");
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(1, await shared.App.CountAsync("SELECT count(*) FROM captures WHERE authorization_id = $1", id));
    }

    [Fact]
    public async Task Void_AfterCapture_Returns409AndNoVoidRow()
    {
        var id = await AuthorizeAsync();
        using var capture = await PostAsync($"{id}/capture");

        using var voided = await PostAsync($"{id}/void");

        Assert.Equal(HttpStatusCode.Conflict, voided.StatusCode);
        Assert.Equal("application/problem+json", voided.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await shared.App.CountAsync("SELECT count(*) FROM voids WHERE authorization_id = $1", id));
    }

    [Fact]
    public async Task Capture_AfterVoid_Returns409AndVoidReplays200()
    {
        var id = await AuthorizeAsync();
        using var voided = await PostAsync($"{id}/void");

        using var capture = await PostAsync($"{id}/capture");
        using var replay = await PostAsync($"{id}/void");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Conflict, HttpStatusCode.OK), (voided.StatusCode, capture.StatusCode, replay.StatusCode));
        Assert.Equal(0, await shared.App.CountAsync("SELECT count(*) FROM captures WHERE authorization_id = $1", id));
        Assert.Equal(1, await shared.App.CountAsync("SELECT count(*) FROM voids WHERE authorization_id = $1", id));
    }

    [Fact]
    public async Task CaptureAndGet_UnknownId_Return404()
    {
        using var capture = await PostAsync($"{Guid.NewGuid()}/capture");
        using var get = await shared.Client.GetAsync($"/api/payments/authorizations/{Guid.NewGuid()}", ct);

        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (capture.StatusCode, get.StatusCode));
        Assert.Equal("application/problem+json", get.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task OpenApi_Document_ListsTheAuthorizationEndpoints()
    {
        var document = await shared.Client.GetStringAsync("/openapi/v1.json", ct);

        Assert.Contains("/api/payments/authorizations/{id}/capture", document, StringComparison.Ordinal);
    }

    private async Task<Guid> AuthorizeAsync()
    {
        using var response = await shared.Client.SendAsync(Authorize(NewKey(), Body(Guid.NewGuid())), ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<AuthorizationDto>(ct))!.Id;
    }

    private Task<HttpResponseMessage> PostAsync(string path) =>
        shared.Client.PostAsync($"/api/payments/authorizations/{path}", content: null, ct);
}
