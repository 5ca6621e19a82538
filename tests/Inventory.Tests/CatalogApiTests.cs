// Guarantee: the catalog API pages, validates (400 naming the field) and reads prices from PostgreSQL, never the cache.
using System.Net;
using System.Net.Http.Json;
using ReliableShop.Inventory.Catalog;

namespace ReliableShop.Inventory.Tests;

public sealed class CatalogApiTests(SharedInventoryApp shared) : IClassFixture<SharedInventoryApp>
{
    private readonly CancellationToken ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task ListItems_ThirdPageOf20_ReturnsSeededSkus41To60AndTotal60()
    {
        var page = await shared.Client.GetFromJsonAsync<CatalogPage>("/api/catalog/items?page=3&pageSize=20", ct);

        Assert.Equal((3, 20, 60L), (page!.Page, page.PageSize, page.Total));
        Assert.Equal(Enumerable.Range(41, 20).Select(i => $"SKU-{i:0000}"), page.Items.Select(i => i.Sku));
        Assert.All(page.Items, i => Assert.True(i.Price > 0 && i.Available >= 0 && i.Name.Length > 0));
    }

    [Fact]
    public async Task ListItems_NoQuery_DefaultsToFirstPageOf20()
    {
        var page = await shared.Client.GetFromJsonAsync<CatalogPage>("/api/catalog/items", ct);

        Assert.Equal((1, 20, "SKU-0001"), (page!.Page, page.Items.Count, page.Items[0].Sku));
    }

    [Theory]
    [InlineData("pageSize=0", "pageSize")]
    [InlineData("pageSize=101", "pageSize")]
    [InlineData("page=0", "page")]
    public async Task ListItems_OutOfRangeParameter_Returns400NamingIt(string query, string field)
    {
        using var response = await shared.Client.GetAsync($"/api/catalog/items?{query}", ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal([field], (await response.Content.ReadFromJsonAsync<ValidationProblemDto>(ct))!.Errors.Keys);
    }

    [Fact]
    public async Task GetItem_UnknownSku_Returns404Problem()
    {
        using var response = await shared.Client.GetAsync("/api/catalog/items/SKU-9999", ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task GetPrices_KnownAndUnknownSkus_ReturnsKnownOnes()
    {
        var prices = await shared.Client.GetFromJsonAsync<SkuPrice[]>("/api/catalog/prices?skus=SKU-0002,SKU-9999,SKU-0001", ct);

        Assert.Equal(["SKU-0001", "SKU-0002"], prices!.Select(p => p.Sku));
    }

    [Fact]
    public async Task GetPrices_CacheHoldsADifferentPrice_ReturnsThePostgresPrice()
    {
        var item = await shared.Client.GetFromJsonAsync<CatalogItem>("/api/catalog/items/SKU-0003", ct); // now cached
        await shared.App.Redis.StringSetAsync(shared.App.KeyPrefix + "SKU-0003",
            $$"""{"sku":"SKU-0003","name":"x","price":0.01,"available":1,"version":{{item!.Version + 100}}}""", TimeSpan.FromMinutes(5));

        var prices = await shared.Client.GetFromJsonAsync<SkuPrice[]>("/api/catalog/prices?skus=SKU-0003", ct);

        Assert.Equal(item.Price, Assert.Single(prices!).Price);
    }

    [Theory]
    [InlineData("")]
    [InlineData("?skus=")]
    [InlineData("?skus=TOO-MANY")]
    public async Task GetPrices_NoneOrMoreThan50Skus_Returns400NamingSkus(string query)
    {
        var url = "/api/catalog/prices" + (query == "?skus=TOO-MANY" ? "?skus=" + string.Join(',', Enumerable.Range(1, 51).Select(i => $"SKU-{i:0000}")) : query);

        using var response = await shared.Client.GetAsync(url, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["skus"], (await response.Content.ReadFromJsonAsync<ValidationProblemDto>(ct))!.Errors.Keys);
    }

    [Fact]
    public async Task OpenApi_Document_ListsTheCatalogEndpoints()
    {
        var document = await shared.Client.GetStringAsync("/openapi/v1.json", ct);

        Assert.Contains("/api/catalog/items/{sku}", document, StringComparison.Ordinal);
        Assert.Contains("/api/catalog/prices", document, StringComparison.Ordinal);
    }
}

public sealed record ValidationProblemDto(int Status, Dictionary<string, string[]> Errors);
