// Outbox health as numbers: backlog, dead letters, and the age of the oldest pending row (the publish lag).
// Doc: docs/failure-modes/outbox.md
namespace ReliableShop.Outbox;

public sealed record OutboxStats(long Pending, long Dead, double OldestPendingAgeSeconds);
