// /admin/stats counts what really happened (issue: toggles & harness, acceptance 5): with no fault, N orders are
// N logical requests and N first attempts at Payment, no retries — summed over every Ordering replica, since each
// replica counts its own calls. POST /admin/stats/reset starts a phase from zero.
using System.Text.Json;

namespace ReliableShop.SystemTests;

[Collection(SystemCollection.Name)]
public sealed class DrillStatsTests(SystemFixture system, ITestOutputHelper output)
{
    private const int Orders = 20;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Stats_NOrdersWithoutFaults_NFirstAttemptsAtPaymentAndNoRetries()
    {
        var instances = ServiceInstances.Find(system.DatabasePrefix);
        await ForEachAsync(instances, (client, _) => client.PostAsync("/admin/stats/reset", null, Ct));

        var placed = await Task.WhenAll(Enumerable.Range(0, Orders)
            .Select(i => system.Ordering.PlaceOrderAsync([($"SKU-{41 + i % 4:0000}", 1)], Ct)));
        await system.Ordering.WaitUntilSettledAsync(placed.Select(p => p.Id), TimeSpan.FromSeconds(30), Ct);

        long orderingRequests = 0, orderingAttempts = 0;
        await ForEachAsync(instances.Where(i => i.Service == "ordering").ToList(), async (client, _) =>
        {
            var payment = (await StatsAsync(client)).GetProperty("ordering").GetProperty("dependencies").GetProperty("payment");
            Interlocked.Add(ref orderingRequests, payment.GetProperty("requests").GetInt64());
            Interlocked.Add(ref orderingAttempts, payment.GetProperty("attempts").GetInt64());
        });
        var received = (await StatsAsync(system.Payment)).GetProperty("payment").GetProperty("requests");
        var authorize = received.GetProperty("byOperation").GetProperty("authorize");
        output.WriteLine($"Ordering → Payment: {orderingRequests} requests, {orderingAttempts} attempts; Payment received {received}");

        // Each order: one authorize and one capture (all confirmed: stock is plentiful), each a single attempt.
        Assert.Equal(Orders, authorize.GetProperty("first").GetInt64());
        Assert.Equal(0, received.GetProperty("retry").GetInt64());
        Assert.Equal(2 * Orders, orderingRequests);
        Assert.Equal(orderingRequests, orderingAttempts);
    }

    private async Task ForEachAsync(IEnumerable<ServiceInstance> instances, Func<HttpClient, ServiceInstance, Task> action) =>
        await Task.WhenAll(instances.Select(async instance =>
        {
            using var client = new HttpClient { BaseAddress = instance.BaseAddress };
            client.DefaultRequestHeaders.Add("X-Admin-Key", system.AdminKey);
            await action(client, instance);
        }));

    private static async Task<JsonElement> StatsAsync(HttpClient client)
    {
        using var json = JsonDocument.Parse(await client.GetStringAsync("/admin/stats", Ct));
        return json.RootElement.Clone();
    }
}
