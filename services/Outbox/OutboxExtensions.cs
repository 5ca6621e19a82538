// Registration of the outbox relay beside its code: options (section "Outbox", validated at start), the message-type
// registry, the relay hosted service, metrics and OutboxAdmin. Needs an NpgsqlDataSource and MassTransit's IBus in DI.
// Doc: docs/failure-modes/outbox.md
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ReliableShop.Outbox;

public static class OutboxExtensions
{
    /// <summary>Meter of the relay's counters and gauges (reliableshop.outbox.*).</summary>
    public const string MeterName = "ReliableShop.Outbox";

    /// <summary>Adds the relay for the types registered in <paramref name="configureTypes"/>, e.g. <c>types => types.Add&lt;OrderPlaced&gt;()</c>.</summary>
    public static IServiceCollection AddOutbox(this IServiceCollection services, Action<OutboxMessageTypes> configureTypes)
    {
        ArgumentNullException.ThrowIfNull(configureTypes);
        var registered = services.Select(d => d.ImplementationInstance).OfType<OutboxMessageTypes>().FirstOrDefault();
        var types = registered ?? new OutboxMessageTypes();
        configureTypes(types);
        if (registered is not null)
        {
            return services; // a second AddOutbox call only adds types: one relay per service
        }
        services.AddSingleton(types);

        // Same discipline as ServiceDefaults' AddValidatedOptions (not referenced here: this library has no host opinions).
        services.AddOptions<OutboxOptions>()
            .BindConfiguration(OutboxOptions.SectionName, binder => binder.ErrorOnUnknownConfiguration = true)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IOutboxPublisher, MassTransitOutboxPublisher>();
        services.TryAddSingleton<IOutboxFaults, NoOutboxFaults>();
        services.AddSingleton<OutboxMetrics>();
        services.AddSingleton<OutboxAdmin>();
        services.AddHostedService<OutboxRelay>();
        return services;
    }
}
