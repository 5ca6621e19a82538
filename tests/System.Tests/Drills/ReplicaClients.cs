// HttpClients straight to each instance of a service (round-robin), so a drill spreads its load over the Ordering
// replicas itself and can sample every instance's /admin/stats while the load runs.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace ReliableShop.SystemTests.Drills;

public sealed class ReplicaClients : IDisposable
{
    private readonly List<HttpClient> clients;
    private int next;

    public ReplicaClients(SystemFixture system, string service, TimeSpan timeout)
    {
        clients = [.. ServiceInstances.Find(system.DatabasePrefix).Where(i => i.Service == service).Select(i =>
        {
            var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 2000, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                BaseAddress = i.BaseAddress,
                Timeout = timeout,
            };
            client.DefaultRequestHeaders.Add("X-Admin-Key", system.AdminKey);
            return client;
        })];
        Assert.NotEmpty(clients);
    }

    public IReadOnlyList<HttpClient> All => clients;

    public HttpClient Next() => clients[(int)((uint)Interlocked.Increment(ref next) % clients.Count)];

    /// <summary>POST /api/orders (fresh key unless given): its status code and the order id of a 2xx.</summary>
    public static async Task<(HttpStatusCode Status, Guid? OrderId)> PlaceAsync(
        HttpClient client, string sku, CancellationToken ct, string? key = null, string? cartId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = JsonContent.Create(new { customerId = "drill", items = new[] { new { sku, quantity = 1 } }, cartId }),
        };
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString());
        using var response = await client.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode) return (response.StatusCode, null);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return (response.StatusCode, json.RootElement.GetProperty("id").GetGuid());
    }

    public static Outcome OutcomeOf(HttpStatusCode status) => (int)status switch
    {
        >= 200 and < 300 => Outcome.Success,
        429 or 503 => Outcome.Rejected,
        _ => Outcome.Error,
    };

    public void Dispose()
    {
        foreach (var client in clients) client.Dispose();
    }
}
