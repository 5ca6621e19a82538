// GET /admin/stats keeps answering when a section cannot (ServiceDefaults/Drills/DrillStatsExtensions.cs): the outbox
// section's query is blocked by a real table lock taken by the test — what a starved pool or a stuck query does to it —
// and the answer still comes, with that section "unavailable" and every other section whole; once the lock goes, the
// section answers again. A section that throws is reported the same way, not as a 500 for the whole document.
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ReliableShop.Drills;
using ReliableShop.TestServers;

namespace ReliableShop.Inventory.Tests;

public sealed class AdminStatsTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task OutboxTableLocked_StatsStillAnswer_OutboxSectionUnavailableOthersWhole()
    {
        using var admin = shared.App.CreateAdminClient();
        await using var locker = new NpgsqlConnection(shared.App.ConnectionString);
        await locker.OpenAsync(ct);
        await using (var tx = await locker.BeginTransactionAsync(ct))
        {
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE outbox_messages IN ACCESS EXCLUSIVE MODE", locker, tx))
            {
                await lockTable.ExecuteNonQueryAsync(ct);
            }

            var blocked = await StatsAsync(admin);
            Assert.Contains("no answer within", blocked.GetProperty("outbox").GetProperty("unavailable").GetString());
            Assert.Equal("inventory", blocked.GetProperty("service").GetString());
            foreach (var whole in new[] { "reservations", "catalogViews", "pool" })
            {
                Assert.False(blocked.GetProperty(whole).TryGetProperty("unavailable", out _), $"{whole} must not wait for the outbox");
            }
            await tx.RollbackAsync(ct);
        }

        // The cancelled read gave its connection back: the section answers again.
        await Eventually.WaitAsync(() => StatsAsync(admin),
            s => s.GetProperty("outbox").TryGetProperty("pending", out _), TimeSpan.FromSeconds(10), "outbox section answers after the lock");
    }

    [Fact]
    public async Task SectionThrows_StatsAnswer200_SectionNamesTheError()
    {
        await using var app = await InventoryApp.CreateAsync();
        using var factory = app.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddSingleton<IDrillStatsSource, FailingSource>()));
        using var admin = factory.CreateClient();
        admin.DefaultRequestHeaders.Add("X-Admin-Key", InventoryApp.AdminKey);

        var stats = await StatsAsync(admin);

        Assert.Equal("InvalidOperationException: the section's store is down",
            stats.GetProperty(FailingSource.Name).GetProperty("unavailable").GetString());
        Assert.True(stats.GetProperty("outbox").TryGetProperty("pending", out _), "the other sections are read as usual");
    }

    private async Task<JsonElement> StatsAsync(HttpClient admin)
    {
        using var response = await admin.GetAsync("/admin/stats", ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        return json.RootElement.Clone();
    }

    private sealed class FailingSource : IDrillStatsSource
    {
        public const string Name = "failing";

        public string Section => Name;

        public Task<object> ReadAsync(CancellationToken ct) => throw new InvalidOperationException("the section's store is down");
    }
}
