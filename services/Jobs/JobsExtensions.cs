// Guarantee: every job kind has exactly one handler, registered by a line you can grep; only those kinds are claimed.
// Failure handled: a bad Jobs:* key or value, or two handlers for one kind, stops the host at start.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ReliableShop.Jobs;

public static class JobsExtensions
{
    /// <summary>Meter of the queue's gauges and counters (reliableshop.jobs.*).</summary>
    public const string MeterName = "ReliableShop.Jobs";

    /// <summary>Options (section "Jobs"), the worker pool with reaper and cleanup, metrics and <see cref="JobsAdmin"/>.
    /// Needs an NpgsqlDataSource in DI.</summary>
    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddOptions<JobsOptions>()
            .BindConfiguration(JobsOptions.SectionName, binder => binder.ErrorOnUnknownConfiguration = true)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<JobHandlerRegistry>();
        services.TryAddSingleton<JobsAdmin>();
        services.TryAddSingleton<JobsMetrics>();
        services.TryAddSingleton<JobStore>();
        services.TryAddSingleton<JobWakeup>();
        services.TryAddSingleton<JobRunner>();
        services.TryAddSingleton<JobWorkers>();
        services.TryAddSingleton<IJobQueueFaults, NoJobQueueFaults>();
        services.AddHostedService<JobWakeupListener>();
        services.AddHostedService<JobWorkerPool>();
        services.AddHostedService<JobMaintenance>();
        return services;
    }

    /// <summary>Runs <typeparamref name="THandler"/> (transient, one instance per job) for jobs of <paramref name="kind"/>.</summary>
    public static IServiceCollection AddJobHandler<THandler>(this IServiceCollection services, string kind)
        where THandler : class, IJobHandler
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        services.TryAddTransient<THandler>();
        services.AddSingleton(new JobHandlerRegistration(kind, provider => provider.GetRequiredService<THandler>()));
        return services;
    }
}
