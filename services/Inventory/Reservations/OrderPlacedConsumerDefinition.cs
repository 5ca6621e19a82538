// Retry beside the consumer: transient PostgreSQL failures (connection loss, deadlock, serialization failure, a
// concurrent duplicate hitting a PRIMARY KEY, a session PostgreSQL ended for idling in its transaction) are retried
// in-process a few times; anything else goes to the _error queue at once. Retrying is safe: the whole reservation is
// one transaction, guarded by the inbox, and each of these failures rolled it back.
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

    // 25P03 (idle_in_transaction_session_timeout, ServiceDefaults/Database/SessionTimeouts.cs): an overloaded process
    // did not send its next statement within 10 s, PostgreSQL ended the session and rolled the reservation back. Not
    // retried, it sent 6 OrderPlaced of an overload drill's reproduce (2026-12-06 23:34) to the _error queue, their
    // orders left Placed for good.
    internal static bool IsTransient(NpgsqlException e) => e.IsTransient || e is PostgresException
    {
        SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation
            or IdleInTransactionSessionTimeout,
    };

    private const string IdleInTransactionSessionTimeout = "25P03"; // not among Npgsql's PostgresErrorCodes
}
