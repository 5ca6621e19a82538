// The queue of the outbox-driven invalidation. No retry policy: the invalidation is best effort against Redis (an
// error answers reads from PostgreSQL and the jittered TTL bounds what a lost invalidation costs), and it is
// idempotent, so a redelivery is harmless. A small concurrency limit: it must not compete with catalog reads.
using MassTransit;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogItemChangedConsumerDefinition : ConsumerDefinition<CatalogItemChangedConsumer>
{
    /// <summary>The queue Inventory consumes its own CatalogItemChanged events from (one replica takes each; the L1 broadcast reaches all).</summary>
    public const string QueueName = "inventory-catalog-item-changed";

    public CatalogItemChangedConsumerDefinition()
    {
        EndpointName = QueueName;
        ConcurrentMessageLimit = 4;
    }
}
