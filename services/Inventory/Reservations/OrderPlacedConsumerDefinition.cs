// Retry beside the consumer: transient PostgreSQL failures (connection loss, deadlock, serialization failure, a
// concurrent duplicate hitting a PRIMARY KEY) are retried in-process a few times; anything else goes to the
// _error queue at once. Retrying is safe: the whole reservation is one transaction, guarded by the inbox.
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

    private static bool IsTransient(NpgsqlException e) => e.IsTransient || e is PostgresException
    {
        SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.UniqueViolation,
    };
}
