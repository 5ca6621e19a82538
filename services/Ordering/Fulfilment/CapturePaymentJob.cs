// Guarantee: a Reserved order's authorization is captured (Payment's capture is idempotent, so a re-run after a
// crash captures once) and only then the order becomes Confirmed. A voided authorization (409) cannot be captured:
// retrying cannot help, so the job goes straight to dead. Doc: docs/failure-modes/background-jobs.md
using Npgsql;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Clients;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class CapturePaymentJob(PaymentClient payment, NpgsqlDataSource db, TimeProvider time) : IJobHandler
{
    public const string Kind = "capture-payment";

    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        var payload = PaymentJobPayload.Parse(job.Payload);
        // The remote call first, outside any transaction; then one short transaction for the status move.
        switch (await payment.CaptureAsync(payload.AuthorizationId, ct))
        {
            case PaymentOutcome.Conflict:
                throw new PermanentJobFailureException($"Authorization {payload.AuthorizationId} was voided; it cannot be captured.");
            case PaymentOutcome.NotFound:
                throw new PermanentJobFailureException($"Authorization {payload.AuthorizationId} is unknown to Payment.");
        }
        await OrderTransitions.MoveAsync(db, payload.OrderId, "Reserved", "Confirmed", "Payment captured", time.GetUtcNow(), ct);
    }
}
