using System.Diagnostics.Metrics;

namespace ReliableShop.Payment.Capacity;

/// <summary>Capacity telemetry (meter "ReliableShop.Payment"): slots in use, queue length, time spent waiting for a slot.</summary>
public sealed class CapacityMetrics
{
    public const string MeterName = "ReliableShop.Payment";
    public const string InUseName = "reliableshop.payment.capacity.in_use";
    public const string QueueLengthName = "reliableshop.payment.capacity.queue_length";
    public const string QueueWaitName = "reliableshop.payment.capacity.queue_wait";

    private readonly UpDownCounter<int> inUse;
    private readonly UpDownCounter<int> queueLength;
    private readonly Histogram<double> queueWait;

    public CapacityMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        inUse = meter.CreateUpDownCounter<int>(InUseName, "{slot}", "Charges holding a capacity slot");
        queueLength = meter.CreateUpDownCounter<int>(QueueLengthName, "{request}", "Charges waiting for a capacity slot");
        queueWait = meter.CreateHistogram<double>(QueueWaitName, "s", "Time a charge waited for a capacity slot");
    }

    public void InUse(int delta) => inUse.Add(delta);

    public void Queued(int delta) => queueLength.Add(delta);

    public void QueueWait(TimeSpan waited, ChargePriority priority) => queueWait.Record(waited.TotalSeconds,
        new KeyValuePair<string, object?>("priority", priority == ChargePriority.Interactive ? "interactive" : "background"));
}
