// Guarantee: a Rejected order's authorization is voided (idempotent at Payment) and only then the order becomes
// Cancelled. An already captured authorization (409) cannot be voided: the job goes straight to dead, for an operator.
// Doc: docs/failure-modes/background-jobs.md
using Npgsql;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Clients;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class VoidPaymentJob(PaymentClient payment, NpgsqlDataSource db, TimeProvider time) : IJobHandler
{
    public const string Kind = "void-payment";

    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        var payload = PaymentJobPayload.Parse(job.Payload);
        switch (await payment.VoidAsync(payload.AuthorizationId, ct))
        {
            case PaymentOutcome.Conflict:
                throw new PermanentJobFailureException($"Authorization {payload.AuthorizationId} was captured; it cannot be voided.");
            case PaymentOutcome.NotFound:
                throw new PermanentJobFailureException($"Authorization {payload.AuthorizationId} is unknown to Payment.");
        }
        await OrderTransitions.MoveAsync(db, payload.OrderId, "Rejected", "Cancelled", "Payment voided", time.GetUtcNow(), ct);
    }
}
