// What makes two POSTs "the same order": the Idempotency-Key names it (the order id is derived from the key, so
// concurrent duplicates send Payment the same body and share one authorization), the request hash tells a true
// replay (same key, same body ⇒ stored order) from a misuse (same key, other body ⇒ 422).
// Doc: docs/failure-modes/race-conditions.md
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ReliableShop.Ordering.Orders;

public static class OrderIdentity
{
    /// <summary>A stable UUID (RFC 9562 version 8, name-based via SHA-256) for the order of <paramref name="idempotencyKey"/>.</summary>
    public static Guid OrderIdFor(string idempotencyKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("reliableshop:order:" + idempotencyKey), hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // version 8
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>SHA-256 of the request, lines sorted by SKU: the same order written in another line order is the same request.</summary>
    public static string RequestHash(PlaceOrderRequest request)
    {
        var canonical = new
        {
            customerId = request.CustomerId,
            items = request.Items!.Select(i => new { sku = i!.Sku, quantity = i.Quantity }).OrderBy(i => i.sku, StringComparer.Ordinal),
        };
        return Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(canonical)));
    }

    /// <summary>The key Ordering sends to Payment: a retry or a concurrent duplicate gets the same authorization.
    /// "order:{key}" when it fits Payment's 100-character limit; longer keys (95–100 chars) are sent as a SHA-256.</summary>
    public static string PaymentKeyFor(string idempotencyKey) => idempotencyKey.Length <= 94
        ? "order:" + idempotencyKey
        : "order:sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(idempotencyKey)));
}
