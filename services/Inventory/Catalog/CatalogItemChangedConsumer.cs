// Invalidation driven by the outbox: the catalog write commits a CatalogItemChanged row with the change, and this
// consumer invalidates (Redis tombstone + L1 broadcast) when it arrives — also when the writer crashed between its commit
// and its own after-commit invalidation. Idempotent without an inbox: a versioned tombstone never replaces a newer value,
// so a redelivery or a late delivery changes nothing. Doc: docs/failure-modes/stale-cache.md
using MassTransit;
using ReliableShop.Contracts;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogItemChangedConsumer(CatalogCache cache) : IConsumer<CatalogItemChanged>
{
    public Task Consume(ConsumeContext<CatalogItemChanged> context) =>
        cache.InvalidateAsync([(context.Message.Sku, context.Message.Version)]);
}
