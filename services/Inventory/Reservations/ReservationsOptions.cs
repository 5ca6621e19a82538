// The OrderPlaced endpoint's queue and the consumer limits it runs with outside overload's reproduce. Unknown keys and
// out-of-range values stop Inventory at startup. Doc: docs/failure-modes/overload.md
using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Inventory.Reservations;

public sealed class ReservationsOptions
{
    public const string SectionName = "Reservations";

    /// <summary>The queue Inventory consumes OrderPlaced from (bound to the OrderPlaced exchange). Default
    /// "inventory-order-placed"; a test gives its own so it never shares a queue with another run.</summary>
    [Required, RegularExpression("^[a-z0-9][a-z0-9.-]{0,199}$")]
    public string QueueName { get; set; } = "inventory-order-placed";

    /// <summary>Reservations running at once, and deliveries prefetched from the broker, in overload's contain and
    /// normally. Default 16: a sixth of the Npgsql pool (100), so a backlog never takes the connections the price reads
    /// of order placement need.</summary>
    [Range(1, 256)]
    public int ConcurrencyLimit { get; set; } = 16;
}
