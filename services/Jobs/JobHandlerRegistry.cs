// Guarantee: kind → handler is an explicit map built from AddJobHandler lines; no scanning, no reflection discovery.
// Failure handled: two handlers for one kind would make behaviour depend on registration order — rejected at start;
// so is a Jobs:KindConcurrency or Jobs:KindRatePerSecond entry for a kind this process has no handler for (a typo would
// silently not limit it).
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.Options;

namespace ReliableShop.Jobs;

internal sealed record JobHandlerRegistration(string Kind, Func<IServiceProvider, IJobHandler> Create);

internal sealed class JobHandlerRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, IJobHandler>> handlers = new(StringComparer.Ordinal);

    public JobHandlerRegistry(IEnumerable<JobHandlerRegistration> registrations, IOptions<JobsOptions> options, TimeProvider time)
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
        Paces = options.Value.KindRatePerSecond.ToDictionary(k => k.Key, k => new JobKindPace(k.Value, time), StringComparer.Ordinal);
        foreach (var (section, kinds) in new[] { ("KindConcurrency", Limits.Keys), ("KindRatePerSecond", Paces.Keys) })
        {
            if (kinds.FirstOrDefault(kind => !handlers.ContainsKey(kind)) is { } unknown)
            {
                throw new InvalidOperationException(
                    $"Jobs:{section}:{unknown}: no handler for job kind '{unknown}' in this process (AddJobHandler); known: {string.Join(", ", Kinds)}.");
            }
        }
        RestrictedKinds = [.. Kinds.Where(kind => Limits.ContainsKey(kind) || Paces.ContainsKey(kind))];
        UnlimitedKinds = [.. Kinds.Where(kind => !RestrictedKinds.Contains(kind))];
    }

    /// <summary>The kinds this process claims; jobs of other kinds stay queued for a process that handles them.</summary>
    public string[] Kinds { get; }

    /// <summary>Kinds without a Jobs:KindConcurrency limit or a Jobs:KindRatePerSecond: claimed first, up to every free worker.</summary>
    public string[] UnlimitedKinds { get; }

    /// <summary>Kinds with a concurrency limit, a rate, or both: claimed with what the unlimited kinds left.</summary>
    public string[] RestrictedKinds { get; }

    /// <summary>Jobs:KindConcurrency: most jobs of the kind running at once in this process.</summary>
    public IReadOnlyDictionary<string, int> Limits { get; }

    /// <summary>Jobs:KindRatePerSecond: most jobs of the kind started per second in this process.</summary>
    public IReadOnlyDictionary<string, JobKindPace> Paces { get; }

    public IJobHandler Create(string kind, IServiceProvider services) => handlers[kind](services);
}
