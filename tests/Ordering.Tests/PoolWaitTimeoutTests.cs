// Guarantee (pool-exhaustion contain, failure-modes.md §6): a placement that cannot get a pooled connection within
// OrderWritePool.ContainPoolWait fails fast — 503 + Retry-After, nothing written — instead of waiting Npgsql's 15 s.
// Real PostgreSQL: the mode's one-connection write pool is taken by the test, then an order is placed.
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Orders;

namespace ReliableShop.Ordering.Tests;

public sealed class PoolWaitTimeoutFixture : AppFixture;

public sealed class PoolWaitTimeoutTests(PoolWaitTimeoutFixture fixture) : IClassFixture<PoolWaitTimeoutFixture>
{
    [Fact]
    public async Task Place_WritePoolExhausted_Contain_Answers503WithinThePoolWaitTimeout()
    {
        var client = fixture.Client;
        await SetModeAsync(client, "contain");
        try
        {
            var pool = fixture.App.Services.GetRequiredService<OrderWritePool>()
                .For(fixture.App.Services.GetRequiredService<FailureModeToggles>().Current);
            await using var held = await pool.OpenConnectionAsync(Requests.Ct); // the pool's only connection
            var key = Requests.NewKey();

            var clock = Stopwatch.StartNew();
            using var response = await client.PlaceAsync(key, Requests.Body(("SKU-0001", 1)));
            clock.Stop();

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
            Assert.Equal("pool-wait-timeout", (await response.JsonAsync()).GetProperty("reason").GetString());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}"); // 250 ms wait, far below Npgsql's 15 s
            Assert.Equal(0L, await Db.ScalarAsync<long>(fixture.App.ConnectionString, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
        }
        finally
        {
            await SetModeAsync(client, "off");
        }
    }

    private static async Task SetModeAsync(HttpClient client, string state)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, "/admin/failure-modes/pool-exhaustion")
        {
            Content = JsonContent.Create(new { state, parameters = new { poolSize = 1, paymentServiceTimeMs = 0 } }),
        };
        request.Headers.Add("X-Admin-Key", OrderingApp.AdminKey);
        using var response = await client.SendAsync(request, Requests.Ct);
        Assert.True(response.IsSuccessStatusCode, $"PUT pool-exhaustion {state}: {(int)response.StatusCode}");
    }
}
