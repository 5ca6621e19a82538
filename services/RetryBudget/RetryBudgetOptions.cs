using System.ComponentModel.DataAnnotations;

namespace ReliableShop.RetryBudget;

public sealed class RetryBudgetOptions
{
    /// <summary>Retries allowed as a percentage of original requests in the window (Finagle's default: 20; ours: 10).</summary>
    [Range(1, 100)]
    public int Percent { get; set; } = 10;

    /// <summary>Retries always allowed per second, so a low-traffic client can still retry at all.</summary>
    [Range(0, 1000)]
    public int MinRetriesPerSecond { get; set; } = 1;

    /// <summary>Length of the sliding window, in seconds.</summary>
    [Range(1, 600)]
    public int WindowSeconds { get; set; } = 10;
}
