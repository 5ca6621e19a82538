// Building and reading order requests in tests.
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ReliableShop.Ordering.Tests;

public static class Requests
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static string NewKey() => "test-" + Guid.NewGuid().ToString("N");

    public static string Body(params (string Sku, int Quantity)[] items) =>
        JsonSerializer.Serialize(new { customerId = "c-1", items = items.Select(i => new { sku = i.Sku, quantity = i.Quantity }) });

    public static Task<HttpResponseMessage> PlaceAsync(this HttpClient client, string? key, string? body, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders");
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, contentType);
        if (key is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return client.SendAsync(request, Ct);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>(Ct);

    public static Task<HttpResponseMessage> AdminGetAsync(this HttpClient client, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Admin-Key", OrderingApp.AdminKey);
        return client.SendAsync(request, Ct);
    }

    public static async Task SetModeAsync(this HttpClient client, string mode, string state)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/admin/failure-modes/{mode}") { Content = JsonContent.Create(new { state }) };
        request.Headers.Add("X-Admin-Key", OrderingApp.AdminKey);
        using var response = await client.SendAsync(request, Ct);
        response.EnsureSuccessStatusCode();
    }
}
