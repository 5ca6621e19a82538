using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Payment.Capacity;

/// <summary>The simulated provider's capacity: <see cref="Slots"/> concurrent charges, each taking <see cref="ServiceTimeMs"/>.</summary>
public sealed class CapacityOptions
{
    public const string SectionName = "Capacity";
    public const int MaxSlots = 1000;
    public const int MaxServiceTimeMs = 60_000;

    /// <summary>Concurrent charges in service; the rest wait in a FIFO queue. Default 10 (10 × 100 ms = 100 charges/s).</summary>
    [Range(1, MaxSlots)]
    public int Slots { get; set; } = 10;

    /// <summary>How long one charge holds its slot, in milliseconds. Default 100.</summary>
    [Range(0, MaxServiceTimeMs)]
    public int ServiceTimeMs { get; set; } = 100;
}
