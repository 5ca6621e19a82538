// Payload of the capture-payment and void-payment jobs. The job's unique key ("capture:{orderId}") makes a second
// enqueue for the same order a no-op. Doc: docs/patterns/jobs.md
using System.Text.Json;

namespace ReliableShop.Ordering.Fulfilment;

public sealed record PaymentJobPayload(Guid OrderId, Guid AuthorizationId)
{
    public string ToJson() => JsonSerializer.Serialize(this, JsonSerializerOptions.Web);

    public static PaymentJobPayload Parse(string json) =>
        JsonSerializer.Deserialize<PaymentJobPayload>(json, JsonSerializerOptions.Web)
        ?? throw new Jobs.PermanentJobFailureException($"Job payload is not a PaymentJobPayload: {json}");
}
