// Guarantee: kind → handler is an explicit map built from AddJobHandler lines; no scanning, no reflection discovery.
// Failure handled: two handlers for one kind would make behaviour depend on registration order — rejected at start.
// Doc: docs/failure-modes/skip-locked-queue.md
namespace ReliableShop.Jobs;

internal sealed record JobHandlerRegistration(string Kind, Func<IServiceProvider, IJobHandler> Create);

internal sealed class JobHandlerRegistry
{
    private readonly Dictionary<string, Func<IServiceProvider, IJobHandler>> handlers = new(StringComparer.Ordinal);

    public JobHandlerRegistry(IEnumerable<JobHandlerRegistration> registrations)
    {
        foreach (var registration in registrations)
        {
            if (!handlers.TryAdd(registration.Kind, registration.Create))
            {
                throw new InvalidOperationException($"Job kind '{registration.Kind}' has more than one handler (AddJobHandler).");
            }
        }
        Kinds = [.. handlers.Keys.Order(StringComparer.Ordinal)];
    }

    /// <summary>The kinds this process claims; jobs of other kinds stay queued for a process that handles them.</summary>
    public string[] Kinds { get; }

    public IJobHandler Create(string kind, IServiceProvider services) => handlers[kind](services);
}
