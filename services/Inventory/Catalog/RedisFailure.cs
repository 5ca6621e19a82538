// What a failed Redis call looks like from StackExchange.Redis, for the code that treats Redis as a cache: the call is
// counted and the answer comes from PostgreSQL (or the broadcast is lost, bounded by the L1 TTL) — never an error to the
// caller. Doc: docs/failure-modes/stale-cache.md
using StackExchange.Redis;

namespace ReliableShop.Inventory.Catalog;

internal static class RedisFailure
{
    /// <summary>
    /// RedisException (connection, server errors), TimeoutException (ours, WaitAsync, and SE.Redis's own),
    /// OperationCanceledException (SE.Redis cancels calls in flight on reconnect), and InvalidOperationException:
    /// SE.Redis's "Reading is not allowed after reader was completed" when the connection is torn down under the call —
    /// seen in an overload drill's reproduce (2026-12-06, a broadcast after a reservation's commit) and at a drill's start
    /// (2026-12-07 02:54 UTC: the stock-setting admin call answered 500 from its cache refresh).
    /// </summary>
    public static bool IsCacheUnavailable(Exception e) =>
        e is RedisException or TimeoutException or OperationCanceledException or InvalidOperationException;
}
