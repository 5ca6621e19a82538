// The in-process L1 in front of Redis: a hit costs no network hop, but every replica holds its own copy, so a write
// anywhere leaves it stale until the entry expires or is dropped. Entries are versioned like the Redis values: a drop
// leaves a tombstone of the changed version, so a reader that loaded the old row before the drop cannot put it back.
// Doc: docs/failure-modes/stale-cache.md
using System.Collections.Concurrent;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogL1(TimeProvider time)
{
    private const int MaxEntries = 10_000; // the catalog is small; past this the whole L1 is dropped (never unbounded)

    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>The live item for <paramref name="sku"/> no older than <paramref name="maxAge"/>, or null (absent, expired or dropped).</summary>
    /// <remarks>maxAge applies the current TTL to entries stored under an older, longer one (leaving reproduce).</remarks>
    public CatalogItem? Get(string sku, TimeSpan maxAge)
    {
        if (!entries.TryGetValue(sku, out var entry)) return null;
        var now = time.GetTimestamp();
        if (now < entry.ExpiresAt && now < entry.StoredAt + (long)(maxAge.TotalSeconds * time.TimestampFrequency)) return entry.Item;
        entries.TryRemove(KeyValuePair.Create(sku, entry));
        return null;
    }

    /// <summary>Stores <paramref name="item"/> for <paramref name="ttl"/> unless the L1 holds a newer version (the Redis
    /// rule: a tombstone of version v refuses older items; an item of version v replaces it).</summary>
    public void Set(CatalogItem item, TimeSpan ttl)
    {
        if (entries.Count >= MaxEntries) entries.Clear();
        var entry = new Entry(item, item.Version, time.GetTimestamp(), Expiry(ttl));
        entries.AddOrUpdate(item.Sku, entry, (_, held) => Live(held) && held.Version > item.Version ? held : entry);
    }

    /// <summary>Drops <paramref name="sku"/> up to <paramref name="version"/>, leaving a tombstone that refuses older writes for <paramref name="tombstoneTtl"/>.</summary>
    public void Drop(string sku, long version, TimeSpan tombstoneTtl)
    {
        var tombstone = new Entry(null, version, time.GetTimestamp(), Expiry(tombstoneTtl));
        entries.AddOrUpdate(sku, tombstone, (_, held) => Live(held) && held.Version > version ? held : tombstone);
    }

    public void Clear() => entries.Clear();

    private bool Live(Entry entry) => time.GetTimestamp() < entry.ExpiresAt;

    private long Expiry(TimeSpan ttl) => time.GetTimestamp() + (long)(ttl.TotalSeconds * time.TimestampFrequency);

    private sealed record Entry(CatalogItem? Item, long Version, long StoredAt, long ExpiresAt);
}
