// off: no fault, protected code path (production behaviour) · reproduce: fault + naive path (the failure is visible) ·
// contain: fault + protected path (the control must hold it).
using System.Collections.Frozen;

namespace ReliableShop.FailureModes;

public enum FailureModeState { Off, Reproduce, Contain }

/// <summary>One mode's current setting: its state and its parameters (catalogue defaults merged with overrides).</summary>
/// <remarks><see cref="Since"/> is when the mode entered its state (store time): faults with phases (an outage of
/// N seconds, then a brown-out) are timed from it, identically on every replica.</remarks>
public sealed record ActiveFailureMode(
    string Id, FailureModeState State, IReadOnlyDictionary<string, double> Parameters, DateTimeOffset Since = default)
{
    public bool FaultInjected => State != FailureModeState.Off;
    public bool Naive => State == FailureModeState.Reproduce;
    public double this[string parameter] => Parameters[parameter];

    /// <summary>Time in the current state at <paramref name="now"/>.</summary>
    public TimeSpan Elapsed(DateTimeOffset now) => now - Since;
}

/// <summary>An immutable view of every mode, swapped atomically when the store changes: reading it costs no I/O.</summary>
public sealed class FailureModeSnapshot
{
    public static FailureModeSnapshot AllOff { get; } = new(0, []);

    private readonly FrozenDictionary<string, ActiveFailureMode> modes;

    public FailureModeSnapshot(long version, IEnumerable<ActiveFailureMode> active)
    {
        Version = version;
        var byId = active.ToDictionary(m => m.Id);
        modes = FailureModeCatalog.All
            .Select(d => byId.GetValueOrDefault(d.Id) ?? new ActiveFailureMode(d.Id, FailureModeState.Off, Defaults(d)))
            .ToFrozenDictionary(m => m.Id);
    }

    public long Version { get; }
    public ActiveFailureMode this[string id] => modes[id];
    public IEnumerable<ActiveFailureMode> Active => modes.Values.Where(m => m.FaultInjected);

    internal static Dictionary<string, double> Defaults(FailureModeDefinition definition) =>
        definition.Parameters.ToDictionary(p => p.Name, p => p.Default);
}
