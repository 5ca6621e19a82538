// Retry beside the consumer: transient PostgreSQL failures (connection loss, deadlock, serialization failure, a
// concurrent duplicate hitting a PRIMARY KEY, a session PostgreSQL ended for idling in its transaction, a statement it
// ended at statement_timeout) are retried in-process a few times; anything else goes to the _error queue at once.
// Retrying is safe: the whole reservation is one transaction, guarded by the inbox, and each of these rolled it back.
// The endpoint itself (queue, prefetch, concurrency) is OrderPlacedIntake's: its limits follow the overload toggle.
using MassTransit;
using Npgsql;

namespace ReliableShop.Inventory.Reservations;

public sealed class OrderPlacedConsumerDefinition : ConsumerDefinition<OrderPlacedConsumer>
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<OrderPlacedConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Intervals(100, 500, 1_000, 2_000, 5_000);
            retry.Handle<NpgsqlException>(IsTransient);
        });
    }

    // The two server-side backstops (ServiceDefaults/Database/SessionTimeouts.cs) end a reservation that an overloaded
    // moment starved, and roll it back; not retried, each sent its OrderPlaced to the _error queue and left its order
    // Placed for good, in overload drills' reproduce:
    //   25P03 idle_in_transaction_session_timeout — the process did not send its next statement within 10 s
    //     (2026-12-06 23:34: 6 orders);
    //   57014 statement_timeout — the stock UPDATE waited 30 s for the hot rows' locks behind hundreds of unbounded
    //     concurrent reservations (CI rehearsal 2026-12-07 02:08: 1 order). A cancellation Npgsql sends for a
    //     CancellationToken surfaces as OperationCanceledException, not as this, and is not retried.
    internal static bool IsTransient(NpgsqlException e) => e.IsTransient || e is PostgresException
    {
        SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation
            or IdleInTransactionSessionTimeout or PostgresErrorCodes.QueryCanceled,
    };

    private const string IdleInTransactionSessionTimeout = "25P03"; // not among Npgsql's PostgresErrorCodes
}
