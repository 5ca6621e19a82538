// The provider's capacity model: Slots concurrent charges, each holding its slot for ServiceTimeMs. Callers beyond
// Slots queue (a customer's charge before a job's: SlotLimiter) — throughput is capped at Slots / ServiceTime, so
// overload shows up as queue wait, as at a real PSP.
// Doc: docs/failure-modes/timeouts-cascade.md
using Microsoft.Extensions.Options;

namespace ReliableShop.Payment.Capacity;

public sealed record CapacitySize(int Slots, TimeSpan ServiceTime);

public sealed class CapacityModel(IOptions<CapacityOptions> options, CapacityMetrics metrics, TimeProvider time)
{
    private readonly SlotLimiter slots = new(options.Value.Slots);
    private long serviceTimeTicks = TimeSpan.FromMilliseconds(options.Value.ServiceTimeMs).Ticks;
    private volatile CapacitySize configured = new(options.Value.Slots, TimeSpan.FromMilliseconds(options.Value.ServiceTimeMs));

    /// <summary>The capacity without faults: the options at start, then what PUT /admin/capacity set.</summary>
    public CapacitySize Configured => configured;

    public int Slots => slots.Limit;

    public TimeSpan ServiceTime => TimeSpan.FromTicks(Volatile.Read(ref serviceTimeTicks));

    public int InUse => slots.InUse;

    public int Queued => slots.Queued;

    /// <summary>Changes the configured capacity; PaymentFaults.SyncCapacity applies it (or what an active mode asks).</summary>
    public void Configure(CapacitySize size) => configured = size;

    /// <summary>Changes capacity at runtime; requests already in service keep their slot and their service time.</summary>
    public void Update(int newSlots, TimeSpan newServiceTime)
    {
        slots.Resize(newSlots);
        Volatile.Write(ref serviceTimeTicks, newServiceTime.Ticks);
    }

    /// <summary>Waits for a slot in the line of <paramref name="priority"/>, then holds it for the service time. Dispose
    /// the result to free the slot.</summary>
    public async Task<IDisposable> EnterAsync(ChargePriority priority, CancellationToken ct)
    {
        var queuedAt = time.GetTimestamp();
        metrics.Queued(+1);
        try
        {
            await slots.WaitAsync(priority, ct);
        }
        finally
        {
            metrics.Queued(-1);
        }
        metrics.QueueWait(time.GetElapsedTime(queuedAt), priority);
        var slot = new Slot(slots, metrics);
        try
        {
            if (ServiceTime > TimeSpan.Zero)
            {
                await Task.Delay(ServiceTime, time, ct);
            }
            return slot;
        }
        catch
        {
            slot.Dispose();
            throw;
        }
    }

    private sealed class Slot : IDisposable
    {
        private readonly SlotLimiter limiter;
        private readonly CapacityMetrics metrics;
        private int released;

        public Slot(SlotLimiter limiter, CapacityMetrics metrics)
        {
            (this.limiter, this.metrics) = (limiter, metrics);
            metrics.InUse(+1);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                metrics.InUse(-1);
                limiter.Release();
            }
        }
    }
}
