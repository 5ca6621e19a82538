namespace ReliableShop.Inventory.Catalog;

/// <summary>A catalog row as the API returns and the cache stores it; <see cref="Version"/> grows with every change.</summary>
public sealed record CatalogItem(string Sku, string Name, decimal Price, int Available, long Version);

public sealed record CatalogPage(IReadOnlyList<CatalogItem> Items, int Page, int PageSize, long Total);

public sealed record SkuPrice(string Sku, decimal Price);
