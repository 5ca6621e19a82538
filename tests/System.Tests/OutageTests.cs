// The system under real infrastructure outages (issue: Foundation, acceptance 4 and 9). The servers are stopped for
// real (infra/local-servers.sh stop, or the Testcontainers container) and always started again in finally.
using System.Net;
using System.Text.Json;
using ReliableShop.TestServers;
using StackExchange.Redis;

namespace ReliableShop.SystemTests;

[Collection(SystemCollection.Name)]
public sealed class OutageTests(SystemFixture system, ITestOutputHelper output)
{
    private static readonly TimeSpan BrokerOutage = TimeSpan.FromSeconds(20);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BrokerStoppedDuringBurst_OrdersAcceptedThenAllSettle()
    {
        var placed = new List<PlacedOrder>();
        await Servers.StopAsync(Server.RabbitMq);
        try
        {
            // A burst spread over the outage: the outbox makes POST independent of the broker.
            var outageEnds = DateTime.UtcNow + BrokerOutage;
            for (var i = 0; DateTime.UtcNow < outageEnds; i++)
            {
                placed.Add(await system.Ordering.PlaceOrderAsync([($"SKU-{31 + i % 10:0000}", 1)], Ct));
                await Task.Delay(TimeSpan.FromMilliseconds(250), Ct); // pacing of the burst, not a wait for a condition
            }
        }
        finally
        {
            await Servers.StartAsync(Server.RabbitMq);
        }
        output.WriteLine($"{placed.Count} orders placed while the broker was down");

        Assert.All(placed, p => Assert.Equal(HttpStatusCode.Created, p.Code));
        var settled = await system.Ordering.WaitUntilSettledAsync(placed.Select(p => p.Id), TimeSpan.FromSeconds(90), Ct);
        Assert.All(settled.Values, s => Assert.Equal("Confirmed", s));
        var report = await Eventually.WaitAsync(() => Invariants.CheckAsync(system, Ct), r => r.AllZero,
            TimeSpan.FromSeconds(15), "invariants");
        output.WriteLine(report.ToString());
    }

    [Fact]
    public async Task RedisStopped_CatalogAnswersFromPostgres_HitsResumeWhenBack()
    {
        const string sku = "SKU-0055";
        using var redis = await ConnectionMultiplexer.ConnectAsync(await Servers.RedisAsync() + ",abortConnect=false");
        await system.Inventory.GetStringAsync($"/api/catalog/items/{sku}", Ct);
        await Eventually.WaitAsync(() => CachedKeyCountAsync(redis, sku), n => n > 0, TimeSpan.FromSeconds(5), "item cached");

        await Servers.StopAsync(Server.Redis);
        try
        {
            using var response = await system.Inventory.GetAsync($"/api/catalog/items/{sku}", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var item = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
            Assert.Equal(sku, item.RootElement.GetProperty("sku").GetString());
        }
        finally
        {
            await Servers.StartAsync(Server.Redis);
        }

        // Redis came back empty (no persistence): the next reads load the item into the cache again.
        await Eventually.WaitAsync(async () =>
        {
            await system.Inventory.GetStringAsync($"/api/catalog/items/{sku}", Ct);
            return await CachedKeyCountAsync(redis, sku);
        }, n => n > 0, TimeSpan.FromSeconds(30), "item cached again after Redis returned");
    }

    private static async Task<int> CachedKeyCountAsync(ConnectionMultiplexer redis, string sku)
    {
        try
        {
            var server = redis.GetServers().First();
            var count = 0;
            await foreach (var _ in server.KeysAsync(pattern: $"*{sku}*")) count++;
            return count;
        }
        catch (RedisConnectionException)
        {
            return 0;
        }
    }
}
