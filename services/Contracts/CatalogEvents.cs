// Catalog change events. Inventory writes CatalogItemChanged to its outbox in the transaction that changed the row, so
// the cache invalidation it drives survives a crash between the commit and the in-process invalidation.
namespace ReliableShop.Contracts;

/// <summary>A catalog row changed and now has <see cref="Version"/>; cached copies older than it are stale.</summary>
public sealed record CatalogItemChanged(string Sku, long Version);
