// Guarantee: admin changes need the admin key (401 without), are validated (400 naming the field, nothing changed),
// and bump the row version.
using System.Net;
using System.Net.Http.Json;
using ReliableShop.Inventory.Catalog;

namespace ReliableShop.Inventory.Tests;

public sealed class CatalogAdminApiTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task UpdateItem_WithoutAdminKey_Returns401AndChangesNothing()
    {
        using var response = await shared.Client.PutAsJsonAsync("/admin/catalog/items/SKU-0050", new { price = 1.00m }, ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(1L, await shared.App.ScalarAsync<long>("SELECT version FROM catalog_items WHERE sku = 'SKU-0050'"));
    }

    [Theory]
    [InlineData(-1.0, null, "price")]
    [InlineData(0.0, null, "price")]
    [InlineData(1.234, null, "price")]
    [InlineData(null, -1, "available")]
    [InlineData(null, 1_000_001, "available")]
    public async Task UpdateItem_OutOfRangeValue_Returns400NamingFieldAndChangesNothing(double? price, int? available, string field)
    {
        using var admin = shared.App.CreateAdminClient();

        using var response = await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0051", new { price = (decimal?)price, available }, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal([field], (await response.Content.ReadFromJsonAsync<ValidationProblemDto>(ct))!.Errors.Keys);
        Assert.Equal(1L, await shared.App.ScalarAsync<long>("SELECT version FROM catalog_items WHERE sku = 'SKU-0051'"));
    }

    [Fact]
    public async Task UpdateItem_PriceAndStock_Returns200WithNewValuesAndNextVersion()
    {
        using var admin = shared.App.CreateAdminClient();

        var item = await (await admin.PutAsJsonAsync("/admin/catalog/items/SKU-0052", new { price = 9.99m, available = 7 }, ct))
            .Content.ReadFromJsonAsync<CatalogItem>(ct);

        Assert.Equal((9.99m, 7, 2L), (item!.Price, item.Available, item.Version));
    }

    [Fact]
    public async Task UpdateItem_UnknownSku_Returns404()
    {
        using var admin = shared.App.CreateAdminClient();

        using var response = await admin.PutAsJsonAsync("/admin/catalog/items/SKU-9999", new { price = 1m }, ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
