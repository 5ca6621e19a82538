// overload contain's second gate at the door (Admission/FollowUpBacklog.cs), on real PostgreSQL through its partial index:
// a placement is shed only while the door is refusing AND the oldest order still owed its reservation or capture is
// older than half of Admission:MaxFollowUpLag (a share of them, growing to all at the bound). A backlog without refusals
// at the door sheds nothing; neither does an order stuck for longer than the gate looks back. Time is a
// FakeTimeProvider: the gate's windows move only when the test says so.
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ReliableShop.Ordering.Admission;
using ReliableShop.Ordering.Database;
using ReliableShop.TestServers;

namespace ReliableShop.Ordering.Tests;

public sealed class FollowUpBacklogTests : IAsyncLifetime
{
    private static readonly TimeSpan MaxLag = TimeSpan.FromSeconds(1);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
    private string connectionString = "";
    private NpgsqlDataSource db = null!;
    private FollowUpBacklog backlog = null!;

    public async ValueTask InitializeAsync()
    {
        connectionString = await Servers.CreateDatabaseAsync("followup");
        db = NpgsqlDataSource.Create(connectionString);
        foreach (var sql in new[] { OrderingSchema.OrdersSql, OrderingSchema.PaymentPendingSql, OrderingSchema.FollowUpIndexSql })
        {
            await using var schema = db.CreateCommand(sql);
            await schema.ExecuteNonQueryAsync(Ct);
        }
        backlog = NewBacklog(new AdmissionOptions().PermitLimit);
    }

    private FollowUpBacklog NewBacklog(int permitLimit) => new(db,
        Options.Create(new AdmissionOptions { MaxFollowUpLag = MaxLag, PermitLimit = permitLimit }), time, NullLogger<FollowUpBacklog>.Instance);

    public async ValueTask DisposeAsync()
    {
        await db.DisposeAsync();
        await Db.DropDatabaseAsync(connectionString);
    }

    [Fact]
    public async Task IsBehind_OnlyWhileTheDoorRefusesAndTheOldestFollowUpIsOlderThanTheBound()
    {
        var placed = await InsertOrderAsync("Placed", time.GetUtcNow());
        time.Advance(TimeSpan.FromSeconds(2)); // 2 s behind, twice the bound

        // The door refused: the gate reads the backlog (in the background; the placement that finds the reading due is
        // decided on the last one, here none) and sheds once the reading is in.
        DoorRefusing();
        await WaitForAsync(true, "the 2 s old Placed order read while the door refuses");
        Assert.Equal(TimeSpan.FromSeconds(2), backlog.Lag);

        // Reserved is owed its capture: still behind.
        await MoveAsync(placed, "Reserved");
        time.Advance(FollowUpBacklog.RefreshInterval);
        await WaitForAsync(true, "the Reserved order, re-read");

        // Confirmed: nothing owed, the next reading lets placements through although the door still refuses.
        await MoveAsync(placed, "Confirmed");
        time.Advance(FollowUpBacklog.RefreshInterval);
        await WaitForAsync(false, "no order owed, re-read");

        // A young backlog (under half the bound, where shedding starts) sheds nothing either.
        await InsertOrderAsync("Placed", time.GetUtcNow() - TimeSpan.FromMilliseconds(300));
        time.Advance(FollowUpBacklog.RefreshInterval);
        await Eventually.WaitAsync(() => Task.FromResult((Behind: backlog.IsBehind(), backlog.Lag)), read => read.Lag > TimeSpan.Zero,
            TimeSpan.FromSeconds(10), "the 0.5 s old order read");
        Assert.Equal(TimeSpan.FromMilliseconds(500), backlog.Lag);
        Assert.Equal(backlog.ShedFrom, backlog.Lag);
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.False(backlog.IsBehind()));
    }

    [Fact]
    public async Task IsBehind_BetweenHalfTheBoundAndTheBound_ShedsAShareGrowingWithTheAge()
    {
        // Random early detection: from half the bound a share of placements is shed, growing linearly to all of them at the
        // bound, so the door eases off as the captures fall behind instead of shutting until they have caught up.
        backlog = new FollowUpBacklog(db, Options.Create(new AdmissionOptions { MaxFollowUpLag = MaxLag }), time,
            NullLogger<FollowUpBacklog>.Instance, new Random(20261208));
        Assert.Equal(0.0, backlog.ShedShare(MaxLag / 2));
        Assert.Equal(0.5, backlog.ShedShare(MaxLag * 0.75), 9);
        Assert.Equal(1.0, backlog.ShedShare(MaxLag));

        await InsertOrderAsync("Placed", time.GetUtcNow());
        time.Advance(MaxLag * 0.75);
        DoorRefusing();
        await Eventually.WaitAsync(() => Task.FromResult((Behind: backlog.IsBehind(), backlog.Lag)), read => read.Lag > TimeSpan.Zero,
            TimeSpan.FromSeconds(10), "the 0.75 s old order read");
        var shed = Enumerable.Range(0, 2000).Count(_ => backlog.IsBehind());
        Assert.InRange(shed, 850, 1150); // half of 2,000; the binomial's standard deviation is 22

        await InsertOrderAsync("Placed", time.GetUtcNow() - MaxLag);
        time.Advance(FollowUpBacklog.RefreshInterval);
        await WaitForAsync(true, "an order as old as the bound");
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.True(backlog.IsBehind()));
    }

    [Fact]
    public async Task IsBehind_BacklogBehindButTheDoorStoppedRefusing_ShedsNothingOnceThePressureWindowEnds()
    {
        // A backlog alone — a consumer paused by a deploy, a broker outage behind the outbox — is no reason to shed: only
        // a door that is refusing is.
        await BehindUnderPressureThenReadAgainJustBeforeItEndsAsync();
        Assert.True(backlog.IsBehind());

        time.Advance(FollowUpBacklog.RefreshInterval); // the window ends; the reading is 0.2 s old, 5.8 s behind
        Assert.False(backlog.IsBehind());
    }

    [Theory]
    [InlineData(10)] // the default
    [InlineData(3)]
    public async Task IsBehind_FewerRefusalsThanTheDoorsPermitsWithinTheWindow_AreNoOverload(int permitLimit)
    {
        // A backlog drained below capacity on a slow host: a few refusals at the door (8 in a CI rehearsal's 10 s drain) are
        // not an overload, and must not open the gate for a second. As many as the door has permits are.
        backlog = NewBacklog(permitLimit);
        Assert.Equal(permitLimit, backlog.PressureRefusals);
        await BehindUnderPressureThenReadAgainJustBeforeItEndsAsync();
        time.Advance(FollowUpBacklog.RefreshInterval + TimeSpan.FromMilliseconds(100)); // the pressure is over; the reading is 0.3 s old

        for (var i = 1; i < permitLimit; i++) backlog.DoorRefused();
        Assert.False(backlog.IsBehind()); // one short of the permits within the window, the ones before them 1.1 s ago: no overload

        backlog.DoorRefused(); // as many as the permits within the window
        Assert.True(backlog.IsBehind());
    }

    [Fact]
    public async Task IsBehind_OrderStuckLongerThanTheGateLooksBack_IsNotCounted()
    {
        // An order stuck for good (a lost event, until it is repaired) is the invariants' to report: it must not shed every
        // placement from then on.
        await InsertOrderAsync("Placed", time.GetUtcNow() - TimeSpan.FromMinutes(5));
        await InsertOrderAsync("Placed", time.GetUtcNow() - TimeSpan.FromSeconds(2));
        DoorRefusing();
        await WaitForAsync(true, "the 2 s old order");
        Assert.Equal(TimeSpan.FromSeconds(2), backlog.Lag); // not 5 min: the stuck one is not in the reading

        await MoveAsync(await Db.ScalarAsync<Guid>(connectionString, "SELECT id FROM orders ORDER BY created_at DESC LIMIT 1"), "Confirmed");
        time.Advance(FollowUpBacklog.RefreshInterval);
        await WaitForAsync(false, "only the stuck order left");
        Assert.Equal(TimeSpan.Zero, backlog.Lag);
    }

    [Fact]
    public async Task IsBehind_LastReadingOlderThanTwoIntervals_IsNotTrusted()
    {
        await InsertOrderAsync("Placed", time.GetUtcNow());
        time.Advance(TimeSpan.FromSeconds(3));
        DoorRefusing();
        await WaitForAsync(true, "the 3 s old order");

        // The next overload, 2 intervals later: its first placement is not shed on the last reading, which said 3 s behind.
        time.Advance(2 * FollowUpBacklog.RefreshInterval);
        DoorRefusing();
        Assert.False(backlog.IsBehind());
    }

    /// <summary>A 5 s old Placed order read while the door refuses; then, 0.2 s before the pressure window ends, a fresh
    /// reading (5.8 s behind), so what is decided after the window is not just a reading too old to trust.</summary>
    private async Task BehindUnderPressureThenReadAgainJustBeforeItEndsAsync()
    {
        await InsertOrderAsync("Placed", time.GetUtcNow());
        time.Advance(TimeSpan.FromSeconds(5));
        DoorRefusing();
        await WaitForAsync(true, "the 5 s old order while the door refuses");
        var beforeEnd = FollowUpBacklog.PressureWindow - FollowUpBacklog.RefreshInterval;
        time.Advance(beforeEnd);
        await Eventually.WaitAsync(() => Task.FromResult((Behind: backlog.IsBehind(), backlog.Lag)),
            read => read.Lag == TimeSpan.FromSeconds(5) + beforeEnd, TimeSpan.FromSeconds(10), "re-read 0.8 s later");
    }

    /// <summary>An overload at the door: PressureRefusals refusals at once.</summary>
    private void DoorRefusing()
    {
        for (var i = 0; i < backlog.PressureRefusals; i++) backlog.DoorRefused();
    }

    /// <summary>Polls <see cref="FollowUpBacklog.IsBehind"/> (each call may start the due reading) until it answers
    /// <paramref name="expected"/>: the reading runs in the background, off the placement's path.</summary>
    private Task WaitForAsync(bool expected, string what) =>
        Eventually.WaitAsync(() => Task.FromResult(backlog.IsBehind()), behind => behind == expected, TimeSpan.FromSeconds(10),
            $"IsBehind = {expected}: {what}");

    private async Task<Guid> InsertOrderAsync(string status, DateTimeOffset createdAt)
    {
        var id = Guid.NewGuid();
        await using var insert = db.CreateCommand("""
            INSERT INTO orders (id, idempotency_key, request_hash, customer_id, status, total, created_at, updated_at)
            VALUES ($1, $2, 'hash', 'customer', $3, 10, $4, $4)
            """);
        insert.Parameters.Add(new() { Value = id });
        insert.Parameters.Add(new() { Value = id.ToString() });
        insert.Parameters.Add(new() { Value = status });
        insert.Parameters.Add(new() { Value = createdAt });
        await insert.ExecuteNonQueryAsync(Ct);
        return id;
    }

    private async Task MoveAsync(Guid id, string status)
    {
        await using var update = db.CreateCommand("UPDATE orders SET status = $2 WHERE id = $1");
        update.Parameters.Add(new() { Value = id });
        update.Parameters.Add(new() { Value = status });
        Assert.Equal(1, await update.ExecuteNonQueryAsync(Ct));
    }
}
