// Idempotent placement against real PostgreSQL: one order per Idempotency-Key (unique insert, not check-then-insert),
// a replay returns the stored order, and the OrderPlaced outbox row commits in the order's own transaction.
using System.Net;
using System.Text.Json;
using Npgsql;
using ReliableShop.Ordering.Orders;

namespace ReliableShop.Ordering.Tests;

public sealed class PlaceOrderFixture : AppFixture
{
    // These tests are about idempotency under concurrent duplicates, not admission: 30 at once must all get in.
    protected override Dictionary<string, string>? Settings => new() { ["Admission:PermitLimit"] = "64" };
}

public sealed class PlaceOrderTests(PlaceOrderFixture fixture) : IClassFixture<PlaceOrderFixture>
{
    private readonly HttpClient _client = fixture.Client;
    private readonly string _db = fixture.App.ConnectionString;

    [Fact]
    public async Task Place_NewKey_Returns201WithOrderAndOutboxRowInOneTransaction()
    {
        var key = Requests.NewKey();
        using var response = await _client.PlaceAsync(key, Requests.Body(("SKU-0001", 2), ("SKU-0002", 1)));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = await response.JsonAsync();
        var id = order.GetProperty("id").GetGuid();
        Assert.Equal($"/api/orders/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("Placed", order.GetProperty("status").GetString());
        Assert.Equal(2 * FakeInventory.PriceOf("SKU-0001") + FakeInventory.PriceOf("SKU-0002"), order.GetProperty("total").GetDecimal());
        Assert.Equal(new[] { "SKU-0001", "SKU-0002" }, order.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("sku").GetString()));
        Assert.Equal(FakeInventory.PriceOf("SKU-0001"), order.GetProperty("items")[0].GetProperty("unitPrice").GetDecimal());
        Assert.NotEqual(Guid.Empty, order.GetProperty("paymentAuthorizationId").GetGuid());
        Assert.Equal("Placed", Assert.Single(order.GetProperty("history").EnumerateArray()).GetProperty("status").GetString());

        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db,
            "SELECT count(*) FROM outbox_messages WHERE message_type = 'ReliableShop.Contracts.OrderPlaced' AND payload->>'orderId' = $1", id.ToString()));
        // xmin is the id of the inserting transaction: equal ⇒ the order and its event committed atomically.
        Assert.True(await Db.ScalarAsync<bool>(_db, """
            SELECT o.xmin::text = m.xmin::text FROM orders o JOIN outbox_messages m ON m.payload->>'orderId' = o.id::text
            WHERE o.id = $1
            """, id));
    }

    [Fact]
    public async Task Place_SameKeySameBody_ReplaysTheStoredOrder()
    {
        var (key, body) = (Requests.NewKey(), Requests.Body(("SKU-0003", 1)));
        using var first = await _client.PlaceAsync(key, body);
        var authorizations = fixture.App.Payment.Authorizations;
        using var replay = await _client.PlaceAsync(key, body);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(Requests.Ct), await replay.Content.ReadAsStringAsync(Requests.Ct));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
        Assert.Equal(authorizations, fixture.App.Payment.Authorizations); // replay fast path: Payment not asked again
    }

    [Fact]
    public async Task Place_SameKeyDifferentBody_Returns422NamingIdempotencyKey()
    {
        var key = Requests.NewKey();
        using var first = await _client.PlaceAsync(key, Requests.Body(("SKU-0004", 1)));
        using var misuse = await _client.PlaceAsync(key, Requests.Body(("SKU-0004", 5)));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, misuse.StatusCode);
        Assert.Equal("application/problem+json", misuse.Content.Headers.ContentType?.MediaType);
        Assert.True((await misuse.JsonAsync()).GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
    }

    [Fact]
    public async Task Place_30ConcurrentIdenticalRequests_CreateExactlyOneOrder()
    {
        var (key, body) = (Requests.NewKey(), Requests.Body(("SKU-0005", 1), ("SKU-0006", 2)));
        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => _client.PlaceAsync(key, body)));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, r.StatusCode.ToString()));
        var ids = await Task.WhenAll(responses.Select(async r => (await r.JsonAsync()).GetProperty("id").GetGuid()));
        Assert.Single(ids.Distinct());
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
        Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM outbox_messages WHERE payload->>'orderId' = $1", ids[0].ToString()));
        foreach (var r in responses) r.Dispose();
    }

    /// <summary>
    /// The engine's half of that guarantee, without HTTP in between and with the 30 transactions released at once,
    /// 20 times: the order id is derived from the key, so an order row has two unique indexes (id, idempotency_key), and
    /// both must arbitrate the conflict. With the key's alone as the ON CONFLICT target, a duplicate whose insert met
    /// the other's primary key first failed with 23505 instead of doing nothing — a 500 (2 of 30 in one CI run).
    /// </summary>
    [Fact]
    public async Task Commit_SameOrderFrom30TransactionsAtOnce_OneCreatesItTheOthersWriteNothing()
    {
        const int Rounds = 20, Duplicates = 30;
        await using var db = NpgsqlDataSource.Create(_db);
        for (var round = 0; round < Rounds; round++)
        {
            var key = Requests.NewKey();
            var order = new NewOrder(OrderIdentity.OrderIdFor(key), key, RequestHash: "h", CustomerId: "c-1", Total: 12.50m,
                AuthorizationId: Guid.NewGuid(), Lines: [new OrderLineResponse("SKU-0001", 1, 12.50m)]);
            var connections = await Task.WhenAll(Enumerable.Range(0, Duplicates).Select(_ => db.OpenConnectionAsync(Requests.Ct).AsTask()));
            try
            {
                var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var commits = connections.Select(async connection =>
                {
                    await go.Task;
                    return await PlaceOrderTransaction.CommitAsync(connection, order, DateTimeOffset.UtcNow, Requests.Ct);
                }).ToArray();
                go.SetResult();

                var created = await Task.WhenAll(commits); // a unique violation fails the test here
                Assert.Equal(1, created.Count(c => c));
                Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM orders WHERE idempotency_key = $1", key));
                Assert.Equal(1L, await Db.ScalarAsync<long>(_db, "SELECT count(*) FROM outbox_messages WHERE payload->>'orderId' = $1", order.Id.ToString()));
            }
            finally
            {
                foreach (var connection in connections) await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Get_PlacedOrder_ReturnsTheSameShape_UnknownIdReturns404Problem()
    {
        using var placed = await _client.PlaceAsync(Requests.NewKey(), Requests.Body(("SKU-0007", 3)));
        var id = (await placed.JsonAsync()).GetProperty("id").GetGuid();

        using var found = await _client.GetAsync($"/api/orders/{id}", Requests.Ct);
        using var missing = await _client.GetAsync($"/api/orders/{Guid.NewGuid()}", Requests.Ct);

        Assert.Equal(await placed.Content.ReadAsStringAsync(Requests.Ct), await found.Content.ReadAsStringAsync(Requests.Ct));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Equal(JsonValueKind.Object, (await missing.JsonAsync()).ValueKind);
    }
}
