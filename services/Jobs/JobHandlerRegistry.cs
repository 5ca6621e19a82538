// Guarantee: kind → handler is an explicit map built from AddJobHandler lines; no scanning, no reflection discovery.
// Failure handled: two handlers for one kind would make behaviour depend on registration order — rejected at start;
// so is a Jobs:KindConcurrency entry for a kind this process has no handler for (a typo would silently not limit it).
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.Options;

namespace ReliableShop.Jobs;

internal sealed record JobHandlerRegistration(string Kind, Func<IServiceProvider, IJobHandler> Create);

internal sealed class JobHandlerRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, IJobHandler>> handlers = new(StringComparer.Ordinal);

    public JobHandlerRegistry(IEnumerable<JobHandlerRegistration> registrations, IOptions<JobsOptions> options)
    {
        foreach (var registration in registrations)
        {
            if (!handlers.TryAdd(registration.Kind, registration.Create))
            {
                throw new InvalidOperationException($"Job kind '{registration.Kind}' has more than one handler (AddJobHandler).");
            }
        }
        Kinds = [.. handlers.Keys.Order(StringComparer.Ordinal)];
        Limits = new Dictionary<string, int>(options.Value.KindConcurrency, StringComparer.Ordinal);
        if (Limits.Keys.FirstOrDefault(kind => !handlers.ContainsKey(kind)) is { } unknown)
        {
            throw new InvalidOperationException(
                $"Jobs:KindConcurrency:{unknown}: no handler for job kind '{unknown}' in this process (AddJobHandler); known: {string.Join(", ", Kinds)}.");
        }
        UnlimitedKinds = [.. Kinds.Where(kind => !Limits.ContainsKey(kind))];
    }

    /// <summary>The kinds this process claims; jobs of other kinds stay queued for a process that handles them.</summary>
    public string[] Kinds { get; }

    /// <summary>Kinds without a Jobs:KindConcurrency limit: claimed first, up to every free worker.</summary>
    public string[] UnlimitedKinds { get; }

    /// <summary>Jobs:KindConcurrency: most jobs of the kind running at once in this process.</summary>
    public IReadOnlyDictionary<string, int> Limits { get; }

    public IJobHandler Create(string kind, IServiceProvider services) => handlers[kind](services);
}
