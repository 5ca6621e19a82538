// Registers Ordering's outbound clients: base addresses (section "Services") and, per dependency, one named
// HttpClient per resilience path (ClientResilience.cs) — each with its OWN breaker — sharing that dependency's retry
// budget. Below every pipeline, AttemptHeaderHandler stamps and counts each attempt on the wire.
// Doc: docs/failure-modes/circuit-breaker.md
using Microsoft.Extensions.Options;
using ReliableShop.FailureModes;
using ReliableShop.Ordering.Telemetry;
using ReliableShop.RetryBudget;

namespace ReliableShop.Ordering.Clients;

public static class ClientsExtensions
{
    public static IServiceCollection AddDependencyClients(this IServiceCollection services)
    {
        services.AddValidatedOptions<ServicesOptions>(ServicesOptions.SectionName);
        services.AddSingleton<DependencyBulkheads>();
        services.AddDependency<InventoryResilienceOptions>(InventoryClient.Dependency, InventoryResilienceOptions.SectionName,
            s => s.Inventory, [ClientPath.Protected, ClientPath.Naive], BudgetLimits.FromOptions);
        services.AddDependency<PaymentResilienceOptions>(PaymentClient.Dependency, PaymentResilienceOptions.SectionName,
            s => s.Payment, [ClientPath.Protected, ClientPath.BudgetOnly, ClientPath.Naive], BudgetLimits.ForPayment);
        services.AddSingleton<InventoryClient>();
        services.AddSingleton<PaymentClient>();
        return services;
    }

    private static void AddDependency<TOptions>(this IServiceCollection services, string dependency, string section,
        Func<ServicesOptions, string> address, ClientPath[] paths, Func<IServiceProvider, ClientResilienceOptions, Func<RetryBudgetLimits>> limits)
        where TOptions : ClientResilienceOptions
    {
        services.AddValidatedOptions<TOptions>(section);
        services.AddKeyedSingleton(dependency, (sp, _) =>
        {
            var options = sp.GetRequiredService<IOptions<TOptions>>().Value;
            return new RetryBudget.RetryBudget(
                new RetryBudgetOptions
                {
                    Percent = options.RetryBudgetPercent,
                    MinRetriesPerSecond = options.RetryBudgetMinPerSecond,
                    WindowSeconds = options.RetryBudgetWindowSeconds,
                },
                sp.GetRequiredService<TimeProvider>(), limits(sp, options));
        });
        foreach (var path in paths)
        {
            var client = services.AddHttpClient(ClientPaths.ClientName(dependency, path), (sp, http) =>
            {
                http.BaseAddress = new Uri(address(sp.GetRequiredService<IOptions<ServicesOptions>>().Value));
                http.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's timeouts are the budget
            });
            client.AddResilienceHandler(ClientPaths.ClientName(dependency, path), (pipeline, context) => ClientResilience.Configure(
                    pipeline, dependency, path,
                    context.ServiceProvider.GetRequiredService<IOptions<TOptions>>().Value,
                    context.ServiceProvider.GetRequiredService<OrderingMetrics>(),
                    context.ServiceProvider.GetRequiredKeyedService<RetryBudget.RetryBudget>(dependency),
                    context.ServiceProvider.GetRequiredService<FailureModeToggles>(),
                    context.ServiceProvider.GetRequiredService<DependencyBulkheads>()));
            // Added after (= inside) the resilience handler: it sees every attempt, not just the logical call.
            client.AddHttpMessageHandler(sp => new AttemptHeaderHandler(dependency, sp.GetRequiredService<OrderingMetrics>()));
        }
    }

    private static class BudgetLimits
    {
        public static Func<RetryBudgetLimits> FromOptions(IServiceProvider sp, ClientResilienceOptions options) =>
            () => new(options.RetryBudgetPercent, options.RetryBudgetMinPerSecond);

        // retry-budget drill: while the mode is on, its parameters (budgetPercent, minRetriesPerSecond) are the limits.
        public static Func<RetryBudgetLimits> ForPayment(IServiceProvider sp, ClientResilienceOptions options)
        {
            var toggles = sp.GetRequiredService<FailureModeToggles>();
            return () => toggles["retry-budget"] is { FaultInjected: true } mode
                ? new(mode["budgetPercent"], mode["minRetriesPerSecond"])
                : new(options.RetryBudgetPercent, options.RetryBudgetMinPerSecond);
        }
    }
}
