// The circuit-breaker fallback's second half. Guarantee: an order accepted as PaymentPending (Payment was unavailable)
// is authorized later with the SAME payment Idempotency-Key the request used — so a request that did reach Payment
// before the breaker opened is not charged twice — and then settles like any other order: Placed + OrderPlaced in one
// transaction. While Payment stays unavailable the job fails and the queue retries it with backoff; a decline (422)
// cancels the order. Doc: docs/failure-modes/circuit-breaker.md
using System.Text.Json;
using Npgsql;
using ReliableShop.Jobs;
using ReliableShop.Ordering.Clients;
using ReliableShop.Ordering.Orders;

namespace ReliableShop.Ordering.Fulfilment;

public sealed class AuthorizePaymentJob(PaymentClient payment, NpgsqlDataSource db, TimeProvider time) : IJobHandler
{
    public const string Kind = "authorize-payment";

    public static string Payload(Guid orderId) => JsonSerializer.Serialize(new AuthorizePayload(orderId));

    private const string PendingSql = "SELECT idempotency_key, total FROM orders WHERE id = $1 AND status = 'PaymentPending'";

    private const string AuthorizedSql = """
        UPDATE orders SET payment_authorization_id = $2 WHERE id = $1 AND status = 'PaymentPending'
        """;

    private const string LinesSql = "SELECT sku, quantity FROM order_lines WHERE order_id = $1 ORDER BY sku";

    public async Task HandleAsync(JobContext job, CancellationToken ct)
    {
        var orderId = JsonSerializer.Deserialize<AuthorizePayload>(job.Payload)?.OrderId
            ?? throw new PermanentJobFailureException($"Job {job.Id}: payload without an order id.");
        if (await PendingAsync(orderId, ct) is not var (key, total)) return; // already authorized (a re-run after a crash)

        // The remote call first, outside any transaction; DependencyUnavailableException fails the attempt (retried).
        var authorization = await payment.AuthorizeAsync(OrderIdentity.PaymentKeyFor(key), orderId, total, ct);

        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (authorization is not { } authorizationId)
        {
            await OrderTransitions.MoveAsync(connection, tx, orderId, "PaymentPending", "Cancelled", "Payment declined the authorization", time.GetUtcNow(), ct);
        }
        else
        {
            await using (var update = new NpgsqlCommand(AuthorizedSql, connection, tx) { Parameters = { new() { Value = orderId }, new() { Value = authorizationId } } })
            {
                await update.ExecuteNonQueryAsync(ct);
            }
            var (moved, _) = await OrderTransitions.MoveAsync(connection, tx, orderId, "PaymentPending", "Placed",
                $"Authorized {total} {PaymentClient.Currency} (after Payment recovered)", time.GetUtcNow(), ct);
            if (moved) await PlaceOrderTransaction.EnqueuePlacedAsync(connection, tx, orderId, await LinesAsync(connection, tx, orderId, ct), ct);
        }
        await tx.CommitAsync(ct);
    }

    private async Task<(string Key, decimal Total)?> PendingAsync(Guid orderId, CancellationToken ct)
    {
        await using var command = db.CreateCommand(PendingSql);
        command.Parameters.Add(new() { Value = orderId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetString(0), reader.GetDecimal(1)) : null;
    }

    private static async Task<List<(string Sku, int Quantity)>> LinesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid orderId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(LinesSql, connection, tx) { Parameters = { new() { Value = orderId } } };
        await using var reader = await command.ExecuteReaderAsync(ct);
        var lines = new List<(string, int)>();
        while (await reader.ReadAsync(ct)) lines.Add((reader.GetString(0), reader.GetInt32(1)));
        return lines;
    }

    private sealed record AuthorizePayload(Guid OrderId);
}
