// The outbox toggle, read by PlaceOrderTransaction and by the outbox relay (services/Outbox/OutboxFaults.cs):
// off → transactional outbox · reproduce → DUAL WRITE: publish straight to the broker after the commit (parameter
// publishBeforeCommit = 1: before it), with crashBetweenCommitAndPublishPercent injected crashes between the two
// writes · contain → transactional outbox, with the same percentage of relay crashes after the broker confirmed and
// before the row is marked published (duplicates the inbox must absorb). Doc: docs/failure-modes/outbox.md
using MassTransit;
using ReliableShop.Contracts;
using ReliableShop.FailureModes;
using ReliableShop.Outbox;

namespace ReliableShop.Ordering.Orders;

public enum EventWrite
{
    /// <summary>CONTAIN / production: the event is an outbox row in the order's transaction; the relay publishes it.</summary>
    Outbox,

    /// <summary>NAIVE: commit, then publish. A crash or broker outage between the two loses the event for good.</summary>
    PublishAfterCommit,

    /// <summary>NAIVE: publish, then commit. A transaction that then aborts leaves a phantom event for an order that never existed.</summary>
    PublishBeforeCommit,
}

/// <summary>The injected crash between the two writes of a dual write: the request dies there (500), like the process would.</summary>
public sealed class SimulatedCrashException(string message) : Exception(message);

public sealed class OutboxToggle(FailureModeToggles toggles, IBus bus) : IOutboxFaults
{
    public const string Mode = "outbox";
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(2);

    public EventWrite Write
    {
        get
        {
            var mode = toggles[Mode];
            if (!mode.Naive) return EventWrite.Outbox;
            return mode["publishBeforeCommit"] >= 1 ? EventWrite.PublishBeforeCommit : EventWrite.PublishAfterCommit;
        }
    }

    /// <summary>True for crashBetweenCommitAndPublishPercent of the calls while the mode is reproduce or contain.</summary>
    public bool InjectCrash()
    {
        var mode = toggles[Mode];
        return mode.FaultInjected && Random.Shared.NextDouble() * 100 < mode["crashBetweenCommitAndPublishPercent"];
    }

    // Contain: the relay's crash window is between the broker's confirm and marking the row.
    public bool CrashAfterPublish(Guid messageId) => toggles[Mode].State == FailureModeState.Contain && InjectCrash();

    /// <summary>NAIVE: publishes straight to the broker from the request (no outbox row, no retry after the request ends).</summary>
    public async Task PublishDirectAsync(OrderPlaced placed, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PublishTimeout); // a down broker must not hang the request; the event is simply gone
        await bus.Publish(placed, context => context.MessageId = Guid.CreateVersion7(), timeout.Token);
    }
}
