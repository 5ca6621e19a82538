// What a well-behaved client of ReliableShop does: one Idempotency-Key per logical order, reused on every retry, and
// retries on 503/429 (admission rejected it; nothing was done) after the server's Retry-After, and on a lost connection.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests;

public sealed record PlacedOrder(Guid Id, string Status, HttpStatusCode Code);

public static class ShopClient
{
    public static async Task<PlacedOrder> PlaceOrderAsync(
        this HttpClient ordering, IReadOnlyList<(string Sku, int Quantity)> lines, CancellationToken ct, string? key = null)
    {
        key ??= Guid.NewGuid().ToString();
        var body = new { customerId = "systest", items = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }) };
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", key);
            HttpResponseMessage response;
            try
            {
                response = await ordering.SendAsync(request, ct);
            }
            catch (HttpRequestException) when (attempt < 50)
            {
                // connection refused/reset (a replica died): safe to resend, the Idempotency-Key makes it one order
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
                continue;
            }
            using var _ = response;
            if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests && attempt < 50)
            {
                var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromMilliseconds(200);
                await Task.Delay(wait + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 200)), ct); // backoff the server asked for
                continue;
            }
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"POST /api/orders → {(int)response.StatusCode}: {text}");
            }
            using var json = JsonDocument.Parse(text);
            return new(json.RootElement.GetProperty("id").GetGuid(), json.RootElement.GetProperty("status").GetString()!, response.StatusCode);
        }
    }

    public static async Task<string> GetStatusAsync(this HttpClient ordering, Guid id, CancellationToken ct)
    {
        using var json = JsonDocument.Parse(await ordering.GetStringAsync($"/api/orders/{id}", ct));
        return json.RootElement.GetProperty("status").GetString()!;
    }

    public static bool IsSettled(string status) => status is "Confirmed" or "Cancelled";

    /// <summary>Waits until every order is Confirmed or Cancelled; returns the final status of each.</summary>
    public static async Task<Dictionary<Guid, string>> WaitUntilSettledAsync(
        this HttpClient ordering, IEnumerable<Guid> ids, TimeSpan timeout, CancellationToken ct)
    {
        var statuses = ids.ToDictionary(id => id, _ => "");
        await Eventually.WaitAsync(async () =>
        {
            foreach (var id in statuses.Keys.Where(id => !IsSettled(statuses[id])).ToList())
            {
                statuses[id] = await ordering.GetStatusAsync(id, ct);
            }
            return statuses.Count(s => !IsSettled(s.Value));
        }, unsettled => unsettled == 0, timeout, "orders still not Confirmed/Cancelled");
        return statuses;
    }
}
