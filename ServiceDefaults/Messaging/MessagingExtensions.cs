// MassTransit over RabbitMQ, one way for every service: the broker comes from ConnectionStrings:messaging
// (amqp://user:pass@host:port/vhost). Consumers and their definitions are registered by the service, beside them.
// Publisher confirms are on (MassTransit's RabbitMQ default): a Publish completes only once the broker has the message,
// which is what lets the outbox relay mark a row published.
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

public static class MessagingExtensions
{
    public const string ConnectionName = "messaging";

    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder, Action<IBusRegistrationConfigurator> configureConsumers)
    {
        var connectionString = builder.Configuration.GetConnectionString(ConnectionName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionName} is required (amqp://user:pass@host:port/).");

        builder.Services.AddMassTransit(bus =>
        {
            bus.SetKebabCaseEndpointNameFormatter();
            // MassTransit 8.4+ reports anonymous usage to its vendor over HTTPS by default; a reference system does not
            // phone home (and offline, every attempt logged a failure).
            bus.ConfigureUsageTelemetryOptions(usage => usage.Enabled = false);
            configureConsumers(bus);
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(new Uri(connectionString), host => host.PublisherConfirmation = true);
                rabbit.ConfigureEndpoints(context);
            });
        });
        // The host must start (and serve HTTP) while the broker is down: MassTransit reconnects in the background.
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = false;
            o.StopTimeout = TimeSpan.FromSeconds(10);
        });
        return builder;
    }
}
