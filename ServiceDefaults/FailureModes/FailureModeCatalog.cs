// The catalogue of the 13 failure modes, one per article of the Backend Reliability guide. Each mode: the services it
// affects and its fault parameters with defaults and ranges. A state change outside this catalogue is rejected (400).
// Spec: ../shared/design/failure-modes.md · Doc: docs/failure-modes/README.md
namespace ReliableShop.FailureModes;

public sealed record FailureModeParameter(string Name, double Default, double Min, double Max, string Description);

public sealed record FailureModeDefinition(
    string Id, string Title, string Description, string[] Services, IReadOnlyList<FailureModeParameter> Parameters)
{
    public string DocPage => $"docs/failure-modes/{Id}.md";
    public FailureModeParameter? Parameter(string name) => Parameters.FirstOrDefault(p => p.Name == name);
}

public static class FailureModeCatalog
{
    private const string O = "ordering", I = "inventory", P = "payment";
    private static FailureModeParameter P_(string name, double @default, double min, double max, string description) =>
        new(name, @default, min, max, description);

    public static IReadOnlyList<FailureModeDefinition> All { get; } =
    [
        new("timeouts-cascade", "When Timeouts Didn't Prevent Cascading Failures",
            "A slow Payment fills Ordering with in-flight work until routes that never call Payment fail too.", [O, P],
            [P_("paymentServiceTimeMs", 2000, 0, 30000, "Payment service time per charge")]),
        new("retry-storm", "Adding Retries Can Make Outages Worse",
            "Retries at two layers multiply the load on a degraded Payment and keep it overloaded after the trigger.", [O, P],
            [P_("capacityFraction", 0.33, 0.05, 1, "Payment capacity left, as a fraction of its slots"),
             P_("attemptTimeoutMs", 300, 50, 10000, "naive per-attempt timeout"),
             P_("retries", 3, 0, 10, "naive retries per layer")]),
        new("retry-budget", "Retry Budgets in Microservices",
            "Per-request retry caps still let fleet-wide retries reach (attempts − 1) × load when Payment is weakest.", [O, P],
            [P_("outageSeconds", 20, 1, 600, "seconds of 100 % fast failures"),
             P_("errorRateAfter", 0.05, 0, 1, "random failure rate after the outage"),
             P_("budgetPercent", 10, 1, 100, "retries allowed as a percentage of original requests"),
             P_("minRetriesPerSecond", 1, 0, 100, "retry floor per second")]),
        new("overload", "Rate Limiting and Backpressure in Microservices",
            "Offered load above capacity fills every queue until goodput collapses while throughput stays high.", [O, I],
            [P_("channelCapacity", 100, 1, 100000, "bounded in-process channel size in contain"),
             P_("prefetch", 1000, 1, 10000, "naive consumer prefetch")]),
        new("scaling-plateau", "Why Horizontal Scaling Didn't Improve Throughput",
            "A shared bottleneck (a hot row lock, a global quota, a fleet-wide connection budget) caps goodput.", [O, P],
            [P_("paymentQuotaPerSecond", 100, 1, 10000, "Payment's global rate quota"),
             P_("poolSizePerReplica", 20, 1, 500, "Npgsql pool size per Ordering replica"),
             P_("paymentServiceTimeMs", 250, 0, 30000, "Payment service time: the remote call the naive path holds the hot row across")]),
        new("pool-exhaustion", "Database Connection Pool Exhaustion in Production",
            "Requests wait for a pooled connection held across a remote call; slow-query dashboards show nothing.", [O, P],
            [P_("poolSize", 5, 1, 100, "Ordering's Npgsql pool size"),
             P_("paymentServiceTimeMs", 500, 0, 30000, "Payment service time while the transaction is open")]),
        new("load-only-bugs", "Why Bugs Appear Only Under Production Load",
            "Check-then-act and lazy initialisation break only under real concurrency, retries and tail latency.", [O, I, P],
            [P_("tailLatencyPercent", 3, 0, 100, "share of calls that get the tail latency"),
             P_("tailLatencyMs", 800, 0, 30000, "injected tail latency"),
             P_("coldLoadMs", 100, 0, 10000, "extra time of one catalog item load from PostgreSQL (an expensive cold query)")]),
        new("circuit-breaker", "Circuit Breaker Pattern in Microservices",
            "Without a per-dependency breaker every call to a dead or slow Payment waits timeout × attempts.", [O, P],
            [P_("downSeconds", 20, 0, 600, "seconds Payment is hard down"),
             P_("brownoutLatencyMs", 3000, 0, 30000, "latency during the brown-out"),
             P_("brownoutErrorRate", 0.3, 0, 1, "error rate during the brown-out")]),
        new("stale-cache", "Why Caching Causes Inconsistent Data in Production",
            "The cache and the database disagree: invalidation before commit, the cache-aside race, diverging L1 caches.", [I],
            [P_("readerPauseMs", 200, 0, 10000, "pause between the reader's DB read and its cache write"),
             P_("ttlSeconds", 3600, 1, 86400, "cache TTL in reproduce")]),
        new("race-conditions", "How to Prevent Race Conditions in Backend Systems",
            "Read-check-write without a condition oversells stock and duplicates orders and captures.", [O, I, P],
            [P_("raceWindowMs", 5, 0, 1000, "pause between the read and the write in the naive path")]),
        new("background-jobs", "Background Jobs in Production",
            "At-least-once delivery plus crashes after the side effect duplicate effects; poison messages loop.", [O, I],
            [P_("crashAfterEffectPercent", 10, 0, 100, "consumer crashes after its side effect"),
             P_("poisonPercent", 1, 0, 100, "malformed messages")]),
        new("skip-locked-queue", "PostgreSQL Job Queues with SKIP LOCKED",
            "Select-then-update claims run a job twice; blocking FOR UPDATE serialises workers; no lease strands jobs.", [O],
            [P_("workerCrashPercent", 5, 0, 100, "simulated worker crashes"),
             P_("handlerMs", 20, 0, 10000, "handler duration"),
             P_("claimStrategy", 1, 1, 2, "naive claim in reproduce: 1 select-then-update, 2 blocking FOR UPDATE in the claim transaction")]),
        new("outbox", "Transactional Outbox Pattern in Microservices",
            "Commit-then-publish loses events on a crash or broker outage; publish-before-commit emits phantoms.", [O, I],
            [P_("crashBetweenCommitAndPublishPercent", 5, 0, 100, "crashes between commit and publish"),
             P_("publishBeforeCommit", 0, 0, 1, "naive variant in reproduce: 0 publish after commit, 1 publish before commit")]),
    ];

    private static readonly Dictionary<string, FailureModeDefinition> ById = All.ToDictionary(m => m.Id);

    public static FailureModeDefinition? Find(string id) => ById.GetValueOrDefault(id);
}
