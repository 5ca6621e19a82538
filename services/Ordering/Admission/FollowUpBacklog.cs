// overload — contain: the door also counts the work it admitted and still owes. A placement answers 201 once the
// order is written; its reservation (Inventory, through the outbox and the broker) and its capture (a job, then
// Payment) run afterwards, on the same cores, pools and dependencies as the next placements. The permits bound only the
// synchronous part, so at 3 × C the door admitted 1.3–1.85 × C while the follow-up work went at its own pace: 250–466
// orders were still unsettled when the overload ended, and for 7–12 s afterwards their drain slowed the placements
// that came next (failure-modes.md § 4 wants 0.5 × C back to baseline within 5 s).
//
//   off (the door alone) and reproduce (no door at all, AdmissionControl.Unlimited): what the synchronous path can answer
//     is admitted; the follow-up backlog is unbounded and outlives the overload.
//   contain: while the door is already refusing (it shed PressureRefusals placements within a PressureWindow), admitted
//     placements are shed too (503 + Retry-After, before any work) as the oldest order still waiting for its follow-up
//     ages: none while it is younger than ShedFrom (half of Admission:MaxFollowUpLag), all once it is MaxFollowUpLag old,
//     and in between a share that grows linearly with the age (random early detection, as routers drop packets before
//     their queue is full). Guarantee: under overload, what the door admits is paced by what the whole pipeline
//     completes, so the backlog an overload leaves is at most MaxFollowUpLag of work, not tens of seconds of it.
//     Not all-or-nothing at one bound: that gate (until 2026-12-08) shut the door until the captures had caught up, then
//     let a burst of placements in, whose authorizations come before the captures on Payment's slots; with it 3 × C
//     served 0.70–0.78 × C in both runs where C came out at 45–50/s (docs/failure-modes/overload.md).
//     Below capacity the door never refuses and this never sheds: a backlog with no overload at the door — a consumer
//     paused by a deploy, a broker outage behind the outbox — is drained behind the live traffic, not turned into 503s
//     (the overload-backlog drill and the outbox's promise that orders are taken while the broker is down).
// Doc: docs/failure-modes/overload.md ("What the door still owes")
using Microsoft.Extensions.Options;
using Npgsql;

namespace ReliableShop.Ordering.Admission;

public sealed class FollowUpBacklog(NpgsqlDataSource db, IOptions<AdmissionOptions> options, TimeProvider time,
    ILogger<FollowUpBacklog> logger, Random? random = null)
{
    private readonly Random random = random ?? Random.Shared; // a seeded one from a single-threaded test; Random.Shared otherwise

    // Orders whose reservation or capture is still to come, through the partial index orders_follow_up
    // (OrderingSchema.FollowUpIndexSql). Only the last minute's: an order stuck for good (its event lost, until it is
    // repaired) is the invariants' business, not a reason to shed every placement from then on.
    private const string OldestSql = "SELECT min(created_at) FROM orders WHERE status IN ('Placed', 'Reserved') AND created_at > $1";
    private static readonly TimeSpan Horizon = TimeSpan.FromMinutes(1);

    /// <summary>The door counts as refusing — the overload is on — for this long after it refused
    /// <see cref="PressureRefusals"/> placements within this long. One refusal is not an overload: a CI rehearsal
    /// (2026-12-07, 19:23 UTC) saw 8 in the backlog drill's 10 s drain on a slow host, and a gate opened by each of them
    /// shed 27 placements that a drain below capacity should have served.</summary>
    public static readonly TimeSpan PressureWindow = TimeSpan.FromSeconds(1);

    /// <summary>Refusals within <see cref="PressureWindow"/> that make an overload: the door's permits
    /// (Admission:PermitLimit, 10 per replica) refused once more each. Over 3 × C's 15 s the door refused 273–695 in the
    /// runs of 2026-12-07 evening: 9–23 a second per replica.</summary>
    public int PressureRefusals => lastRefusals.Length;

    /// <summary>The oldest follow-up is re-read at most this often, off the request path; a reading older than two
    /// intervals is not trusted (the first placements of a new overload do not shed on the last one's backlog).</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(200);

    private readonly Lock refusing = new();
    private readonly long[] lastRefusals = new long[options.Value.PermitLimit]; // a ring of the last refusals' timestamps
    private int nextRefusal, refreshing;
    private long pressureUntil, readAt, lagTicks; // timestamps; readAt 0: never read

    /// <summary>The door refused a placement (its permits were all taken). The <see cref="PressureRefusals"/>-th within
    /// <see cref="PressureWindow"/> puts the door under pressure for the next PressureWindow.</summary>
    public void DoorRefused()
    {
        var now = time.GetTimestamp();
        lock (refusing)
        {
            lastRefusals[nextRefusal] = now;
            nextRefusal = (nextRefusal + 1) % PressureRefusals;
            var oldest = lastRefusals[nextRefusal]; // the first of the last PressureRefusals, this one included (0: fewer so far)
            if (oldest == 0 || now - oldest > ToTimestamp(PressureWindow)) return;
        }
        Volatile.Write(ref pressureUntil, now + ToTimestamp(PressureWindow));
    }

    /// <summary>The age of the oldest order still owed its follow-up, as last read (zero when none).</summary>
    public TimeSpan Lag => TimeSpan.FromTicks(Volatile.Read(ref lagTicks));

    /// <summary>The follow-up age from which placements start to be shed under pressure: half of Admission:MaxFollowUpLag.
    /// At C the oldest is younger (0.0–1.2 s in the capacity holds of 2026-12-07 and 08), so a door at C sheds nothing here.</summary>
    public TimeSpan ShedFrom => options.Value.MaxFollowUpLag / 2;

    /// <summary>The share of placements to shed at <paramref name="lag"/>: 0 up to <see cref="ShedFrom"/>, 1 from
    /// Admission:MaxFollowUpLag, linear in between.</summary>
    public double ShedShare(TimeSpan lag)
    {
        var max = options.Value.MaxFollowUpLag;
        return lag <= ShedFrom ? 0 : lag >= max ? 1 : (lag - ShedFrom) / (max - ShedFrom);
    }

    /// <summary>True when this placement must be shed: the door is refusing and the follow-up work is behind — every
    /// placement past Admission:MaxFollowUpLag, a growing share of them from <see cref="ShedFrom"/>. Never waits: a due
    /// reading is started in the background and this placement is decided on the last one.</summary>
    public bool IsBehind()
    {
        var now = time.GetTimestamp();
        if (now >= Volatile.Read(ref pressureUntil)) return false;
        var age = now - Volatile.Read(ref readAt);
        if (age >= ToTimestamp(RefreshInterval) && Interlocked.CompareExchange(ref refreshing, 1, 0) == 0) _ = RefreshAsync();
        if (age >= 2 * ToTimestamp(RefreshInterval)) return false;
        var share = ShedShare(Lag);
        return share >= 1 || (share > 0 && random.NextDouble() < share);
    }

    private async Task RefreshAsync()
    {
        try
        {
            var now = time.GetUtcNow();
            await using var command = db.CreateCommand(OldestSql);
            command.Parameters.Add(new() { Value = now - Horizon });
            var oldest = await command.ExecuteScalarAsync();
            var lag = oldest is DateTime created ? now - new DateTimeOffset(created, TimeSpan.Zero) : TimeSpan.Zero;
            Volatile.Write(ref lagTicks, Math.Max(0, lag.Ticks));
            Volatile.Write(ref readAt, time.GetTimestamp());
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // No reading: after two intervals the gate stops shedding on the old one; the door's permits still hold.
            logger.LogWarning(e, "Reading the follow-up backlog failed; the door decides without it");
        }
        finally
        {
            Volatile.Write(ref refreshing, 0);
        }
    }

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);
}
