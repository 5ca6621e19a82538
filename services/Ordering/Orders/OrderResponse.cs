// The one shape an order is answered in — by POST (201, or 200 on replay) and GET — read back from the database,
// so a replay returns exactly what the first response returned. Doc: docs/failure-modes/race-conditions.md
namespace ReliableShop.Ordering.Orders;

public sealed record OrderResponse(
    Guid Id,
    string Status,
    decimal Total,
    IReadOnlyList<OrderLineResponse> Items,
    Guid? PaymentAuthorizationId,
    IReadOnlyList<OrderHistoryResponse> History);

public sealed record OrderLineResponse(string Sku, int Quantity, decimal UnitPrice);

public sealed record OrderHistoryResponse(string Status, DateTimeOffset At, string? Note);
