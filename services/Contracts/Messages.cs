// Integration events between services. Past-tense records; the outbox row id travels as MassTransit's MessageId,
// which is what consumers' inboxes deduplicate on.
namespace ReliableShop.Contracts;

/// <summary>Ordering committed an order (authorized at Payment); Inventory must reserve its lines.</summary>
public sealed record OrderPlaced(Guid OrderId, IReadOnlyList<OrderLine> Lines);

public sealed record OrderLine(string Sku, int Quantity);

/// <summary>Inventory reserved every line of the order.</summary>
public sealed record StockReserved(Guid OrderId);

/// <summary>Inventory could not reserve the order (nothing was reserved); <see cref="Reason"/> names the first short SKU.</summary>
public sealed record StockRejected(Guid OrderId, string Reason);
