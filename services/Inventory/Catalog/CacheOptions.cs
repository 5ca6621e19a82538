using System.ComponentModel.DataAnnotations;

namespace ReliableShop.Inventory.Catalog;

/// <summary>The catalog cache in Redis: key layout, lifetime, and how long a read may wait for Redis.</summary>
public sealed class CacheOptions
{
    public const string SectionName = "Cache";

    /// <summary>Prefix of every item key; the key is prefix + SKU. Default "catalog:item:".</summary>
    [Required, MinLength(1), MaxLength(200)]
    public string KeyPrefix { get; set; } = "catalog:item:";

    /// <summary>Lifetime of a cached item, in seconds, before jitter. Default 300.</summary>
    [Range(1, 86_400)]
    public int TtlSeconds { get; set; } = 300;

    /// <summary>± spread applied to each TTL, in percent, so keys written together do not expire together. Default 20.</summary>
    [Range(0, 90)]
    public int TtlJitterPercent { get; set; } = 20;

    /// <summary>Lifetime of an entry in the in-process L1 (and of its tombstones), in ms: the L1 staleness budget when an
    /// invalidation broadcast is missed. Default 1000 (budget 2 s).</summary>
    [Range(0, 2_000)]
    public int L1TtlMs { get; set; } = 1_000;

    /// <summary>Longest a request waits for one Redis call before answering from PostgreSQL, in ms. Default 250.</summary>
    [Range(10, 10_000)]
    public int RedisTimeoutMs { get; set; } = 250;
}
