// Payment's drill KPIs, exported as OpenTelemetry counters (reliableshop.payment.*) and, as the same numbers, as the
// "payment" section of GET /admin/stats: requests received (first attempt vs retry: retry amplification), faults
// injected by kind, Payment's own provider retries, charges done for a caller still waiting vs for one that had given
// up (goodput vs wasted capacity), and the capacity model's size and load. Doc: docs/failure-modes/README.md
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using ReliableShop.Drills;
using ReliableShop.Payment.Capacity;
using ReliableShop.Payment.Faults;

namespace ReliableShop.Payment.Telemetry;

public sealed record AttemptCounts(long First, long Retry);

public sealed record RequestCounts(long First, long Retry, SortedDictionary<string, AttemptCounts> ByOperation);

/// <summary>
/// Charges the provider did: <paramref name="Answered"/> to a caller still waiting (goodput), <paramref name="Abandoned"/>
/// after the caller — Ordering, or Payment's own provider attempt timeout — had given up (capacity spent on no one).
/// </summary>
public sealed record ChargeCounts(long Answered, long Abandoned);

public sealed record PaymentStatsView(
    RequestCounts Requests, SortedDictionary<string, long> Faults, long ProviderRetries, ChargeCounts Charges, CapacityState Capacity);

public sealed class PaymentStats : IDrillStatsSource
{
    public const string RequestsName = "reliableshop.payment.requests";
    public const string FaultsName = "reliableshop.payment.faults";
    public const string ProviderRetriesName = "reliableshop.payment.provider_retries";
    public const string ChargesName = "reliableshop.payment.charges";
    private static readonly FaultKind[] Kinds = Enum.GetValues<FaultKind>();

    private readonly CapacityModel capacity;
    private readonly PaymentFaults faults;
    private readonly Counter<long> requestCounter, faultCounter, retryCounter, chargeCounter;
    private readonly ConcurrentDictionary<string, long[]> requests = new(StringComparer.Ordinal); // operation → [first, retry]
    private readonly long[] faultCounts = new long[Kinds.Length];
    private readonly long[] charges = new long[2]; // [answered, abandoned]
    private long providerRetries;

    public PaymentStats(IMeterFactory meterFactory, CapacityModel capacity, PaymentFaults faults)
    {
        (this.capacity, this.faults) = (capacity, faults);
        var meter = meterFactory.Create(CapacityMetrics.MeterName);
        requestCounter = meter.CreateCounter<long>(RequestsName, "{request}", "Requests received by Payment, first attempt or retry");
        faultCounter = meter.CreateCounter<long>(FaultsName, "{fault}", "Faults Payment injected, by kind");
        retryCounter = meter.CreateCounter<long>(ProviderRetriesName, "{retry}", "Payment's own retries of its provider call");
        chargeCounter = meter.CreateCounter<long>(ChargesName, "{charge}", "Charges done, for a caller still waiting (caller=waiting) or one that gave up (caller=gone)");
    }

    public string Section => "payment";

    public void Received(string operation, int attempt)
    {
        var retry = attempt > 1;
        Interlocked.Increment(ref requests.GetOrAdd(operation, _ => new long[2])[retry ? 1 : 0]);
        requestCounter.Add(1, new("operation", operation), new("attempt", retry ? "retry" : "first"));
    }

    public void Fault(FaultKind kind)
    {
        Interlocked.Increment(ref faultCounts[(int)kind]);
        faultCounter.Add(1, new KeyValuePair<string, object?>("kind", Name(kind)));
    }

    public void ProviderRetried()
    {
        Interlocked.Increment(ref providerRetries);
        retryCounter.Add(1);
    }

    /// <summary>A charge done; <paramref name="callerGone"/>: its caller had already given up, so the capacity it took served no one.</summary>
    public void Charged(bool callerGone)
    {
        Interlocked.Increment(ref charges[callerGone ? 1 : 0]);
        chargeCounter.Add(1, new KeyValuePair<string, object?>("caller", callerGone ? "gone" : "waiting"));
    }

    public Task<object> ReadAsync(CancellationToken ct)
    {
        faults.SyncCapacity(); // the capacity follows the toggles even when no charge has arrived since they changed
        var byOperation = new SortedDictionary<string, AttemptCounts>(requests.ToDictionary(
            r => r.Key, r => new AttemptCounts(Interlocked.Read(ref r.Value[0]), Interlocked.Read(ref r.Value[1]))), StringComparer.Ordinal);
        return Task.FromResult<object>(new PaymentStatsView(
            new RequestCounts(byOperation.Values.Sum(c => c.First), byOperation.Values.Sum(c => c.Retry), byOperation),
            new SortedDictionary<string, long>(Kinds.ToDictionary(Name, k => Interlocked.Read(ref faultCounts[(int)k])), StringComparer.Ordinal),
            Interlocked.Read(ref providerRetries),
            new ChargeCounts(Interlocked.Read(ref charges[0]), Interlocked.Read(ref charges[1])),
            CapacityAdminApi.GetCapacity(capacity).Value!));
    }

    public void Reset()
    {
        foreach (var counts in requests.Values)
        {
            Interlocked.Exchange(ref counts[0], 0);
            Interlocked.Exchange(ref counts[1], 0);
        }
        for (var i = 0; i < faultCounts.Length; i++) Interlocked.Exchange(ref faultCounts[i], 0);
        Interlocked.Exchange(ref providerRetries, 0);
        Interlocked.Exchange(ref charges[0], 0);
        Interlocked.Exchange(ref charges[1], 0);
    }

    private static string Name(FaultKind kind) => JsonNamingPolicy.CamelCase.ConvertName(kind.ToString());
}
