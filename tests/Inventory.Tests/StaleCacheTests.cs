// The stale-cache mechanisms, one host (or two sharing a database and Redis) against real PostgreSQL and Redis:
// the cache-aside race made deterministic (readerPauseMs), the L1 of a second replica, and the charged price.
// reproduce: plain SET + DEL before commit + no L1 broadcast → the old row stays; contain: versioned write refused,
// tombstones, broadcast → the new version is served. Doc: docs/failure-modes/stale-cache.md
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.Contracts;
using ReliableShop.Inventory.Catalog;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class StaleCacheTests(SharedInventoryApp shared, ITestOutputHelper output) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("reproduce", "SKU-0041")]
    [InlineData("contain", "SKU-0042")]
    public async Task CacheAsideRace_WriterCommitsWhileReaderPaused_OnlyReproduceKeepsTheOldRow(string state, string sku)
    {
        try
        {
            await SetModeAsync(shared.App, state, new { readerPauseMs = 400 });
            var metrics = shared.App.Services.GetRequiredService<CacheMetrics>();
            var refusedBefore = metrics.Snapshot().StaleWritesRefused;
            var v1 = await PutPriceAsync(shared.App, sku, 11.11m);

            // The reader misses, reads v1 from PostgreSQL, then pauses 400 ms before writing the cache …
            var reading = GetItemAsync(shared.Client, sku);
            await Task.Delay(150, ct);
            var v2 = await PutPriceAsync(shared.App, sku, 22.22m); // … while the writer commits v2 and invalidates.
            var read = await reading;
            var cached = await CachedAsync(sku);
            var next = await GetItemAsync(shared.Client, sku);
            output.WriteLine($"{state}: reader got v{read.Version}; Redis holds {cached}; next read v{next.Version} {next.Price}");

            Assert.Equal(v1.Version, read.Version); // the race happened: the reader held the old row when v2 committed
            if (state == "reproduce")
            {
                Assert.Equal($"item v{v1.Version}", cached);            // the old row was written back over the invalidation
                Assert.Equal((v1.Version, 11.11m), (next.Version, next.Price)); // and is served (TTL 1 h)
            }
            else
            {
                Assert.Equal($"item v{v2.Version}", cached);           // the writer's committed row; the reader's old one was refused
                Assert.Equal((v2.Version, 22.22m), (next.Version, next.Price));
                Assert.True(metrics.Snapshot().StaleWritesRefused > refusedBefore);
            }
        }
        finally
        {
            await SetModeAsync(shared.App, "off", null);
        }
    }

    [Theory]
    [InlineData("off", "SKU-0043")]
    [InlineData("contain", "SKU-0044")]
    [InlineData("reproduce", "SKU-0045")]
    public async Task ChargedPrice_CacheHoldsAWrongPrice_PricesComeFromPostgresExceptInReproduce(string state, string sku)
    {
        try
        {
            await SetModeAsync(shared.App, state, null);
            var real = await PutPriceAsync(shared.App, sku, 33.33m);
            // A cached value that disagrees with PostgreSQL (a newer version, so every write path leaves it alone).
            var cache = shared.App.Services.GetRequiredService<CatalogCache>();
            Assert.True(await cache.TryWriteIfNewerAsync(sku, real.Version + 1_000,
                JsonSerializer.Serialize(real with { Price = 1.23m, Version = real.Version + 1_000 }, JsonSerializerOptions.Web), "item"));

            var shown = await GetItemAsync(shared.Client, sku);
            var charged = (await shared.Client.GetFromJsonAsync<List<SkuPrice>>($"/api/catalog/prices?skus={sku}", ct))!.Single();
            output.WriteLine($"{state}: product page {shown.Price}, charged {charged.Price}, PostgreSQL {real.Price}");

            Assert.Equal(1.23m, shown.Price); // the cache is in front of item reads …
            Assert.Equal(state == "reproduce" ? 1.23m : 33.33m, charged.Price); // … never in front of the charged price (except the naive path)
        }
        finally
        {
            await SetModeAsync(shared.App, "off", null);
            await shared.App.Redis.KeyDeleteAsync(shared.App.KeyPrefix + sku);
        }
    }

    [Theory]
    [InlineData("reproduce", "SKU-0046")]
    [InlineData("contain", "SKU-0047")]
    public async Task SecondReplica_ItemInItsL1_ServesTheNewVersionOnlyWithTheBroadcast(string state, string sku)
    {
        await using var replica = new InventoryApp(new Dictionary<string, string?>
        {
            ["ConnectionStrings:inventory"] = shared.App.ConnectionString,
            ["ConnectionStrings:control"] = shared.App.ConnectionString,
            ["ConnectionStrings:redis"] = await Servers.RedisAsync(),
            ["ConnectionStrings:messaging"] = await Servers.RabbitMqAsync(),
            ["Admin:Key"] = InventoryApp.AdminKey,
            ["Cache:KeyPrefix"] = shared.App.KeyPrefix,
        });
        using var replicaClient = replica.CreateClient();
        try
        {
            await SetModeAsync(shared.App, state, new { readerPauseMs = 0 });
            await SetModeAsync(replica, state, new { readerPauseMs = 0 });
            var before = await GetItemAsync(replicaClient, sku); // now in the replica's L1
            await Task.Delay(300, ct);                          // let its subscription settle

            var written = await PutPriceAsync(shared.App, sku, before.Price + 1); // through the other replica
            var started = Stopwatch.StartNew();
            var served = before;
            while (served.Version < written.Version && started.Elapsed < TimeSpan.FromSeconds(2.5))
            {
                served = await GetItemAsync(replicaClient, sku);
                await Task.Delay(20, ct);
            }
            output.WriteLine($"{state}: replica serves v{served.Version} (committed v{written.Version}) after {started.ElapsedMilliseconds} ms");

            if (state == "reproduce")
            {
                Assert.Equal(before.Version, served.Version); // still the old copy 2.5 s later: beyond the 2 s budget
            }
            else
            {
                Assert.Equal(written.Version, served.Version);
                Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"new version served after {started.ElapsedMilliseconds} ms");
            }
        }
        finally
        {
            await SetModeAsync(shared.App, "off", null);
        }
    }

    [Fact]
    public async Task PriceChange_Contain_EventCommitsWithTheChangeAndItsConsumerInvalidatesAfterACrash()
    {
        try
        {
            await SetModeAsync(shared.App, "contain", new { readerPauseMs = 0 });
            var changed = await PutPriceAsync(shared.App, "SKU-0048", 44.44m);
            Assert.Equal(1L, await shared.App.ScalarAsync<long>(
                "SELECT count(*) FROM outbox_messages WHERE message_type = $1 AND payload->>'sku' = 'SKU-0048' AND (payload->>'version')::bigint = $2",
                typeof(CatalogItemChanged).FullName!, changed.Version));

            // A writer that crashed after its commit, before its own invalidation: Redis still holds an older row.
            var stale = changed with { Price = 1.11m, Version = changed.Version - 1 };
            await shared.App.Redis.StringSetAsync(shared.App.KeyPrefix + stale.Sku, JsonSerializer.Serialize(stale, JsonSerializerOptions.Web));
            await shared.App.Services.GetTestHarness().Bus.Publish(new CatalogItemChanged(changed.Sku, changed.Version), ct); // the relay's redelivery

            await Eventually.WaitAsync(() => CachedAsync(changed.Sku), c => c == $"tombstone v{changed.Version}",
                TimeSpan.FromSeconds(10), "outbox event invalidated the stale row");
            Assert.Equal(44.44m, (await GetItemAsync(shared.Client, changed.Sku)).Price);
        }
        finally
        {
            await SetModeAsync(shared.App, "off", null);
        }
    }

    private async Task<CatalogItem> PutPriceAsync(InventoryApp app, string sku, decimal price)
    {
        using var admin = app.CreateAdminClient();
        using var response = await admin.PutAsJsonAsync($"/admin/catalog/items/{sku}", new { price }, ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<CatalogItem>(ct))!;
    }

    private async Task<CatalogItem> GetItemAsync(HttpClient client, string sku) =>
        (await client.GetFromJsonAsync<CatalogItem>($"/api/catalog/items/{sku}", ct))!;

    private async Task<string> CachedAsync(string sku)
    {
        var value = await shared.App.Redis.StringGetAsync(shared.App.KeyPrefix + sku);
        if (value.IsNullOrEmpty) return "nothing";
        var json = JsonDocument.Parse(value.ToString()).RootElement;
        return $"{(json.TryGetProperty("tombstone", out _) ? "tombstone" : "item")} v{json.GetProperty("version").GetInt64()}";
    }

    private async Task SetModeAsync(InventoryApp app, string state, object? parameters)
    {
        using var admin = app.CreateAdminClient();
        (await admin.PutAsJsonAsync("/admin/failure-modes/stale-cache",
            parameters is null ? new { state } : (object)new { state, parameters }, ct)).EnsureSuccessStatusCode();
    }
}
