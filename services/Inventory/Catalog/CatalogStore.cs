// Catalog reads and the admin write, straight from PostgreSQL. The cache (CatalogCache) sits in front of item reads
// only; prices for ordering are always read here, never from the cache.
using System.Data;
using Dapper;
using Npgsql;
using ReliableShop.Contracts;
using ReliableShop.Outbox;

namespace ReliableShop.Inventory.Catalog;

public sealed class CatalogStore(NpgsqlDataSource db, ReliableShop.FailureModes.FailureModeToggles toggles, TimeProvider time)
{
    private const string Columns = "sku, name, price, available, version";

    public async Task<CatalogPage> ListAsync(int page, int pageSize, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var items = await connection.QueryAsync<CatalogItem>(new CommandDefinition(
            $"SELECT {Columns} FROM catalog_items ORDER BY sku LIMIT @PageSize OFFSET @Offset",
            new { PageSize = pageSize, Offset = (page - 1) * pageSize }, cancellationToken: ct));
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM catalog_items", cancellationToken: ct));
        return new CatalogPage(items.AsList(), page, pageSize, total);
    }

    public async Task<CatalogItem?> GetAsync(string sku, CancellationToken ct)
    {
        // load-only-bugs (fault): a cold item load costs coldLoadMs more — a real catalog load is an expensive query,
        // and its duration is the window in which every concurrent reader of the cold key misses too.
        if (toggles["load-only-bugs"] is { FaultInjected: true } loadOnly && loadOnly["coldLoadMs"] > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(loadOnly["coldLoadMs"]), time, ct);
        }
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<CatalogItem>(new CommandDefinition(
            $"SELECT {Columns} FROM catalog_items WHERE sku = @Sku", new { Sku = sku }, cancellationToken: ct));
    }

    /// <summary>The prices an order is charged: read from PostgreSQL in one read-only REPEATABLE READ transaction (one
    /// snapshot for every SKU of the order), never from a cache. Ordering stores them in its order transaction.</summary>
    public async Task<IReadOnlyList<SkuPrice>> GetPricesAsync(IReadOnlyCollection<string> skus, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        await connection.ExecuteAsync(new CommandDefinition("SET TRANSACTION READ ONLY", transaction: tx, cancellationToken: ct));
        var prices = await connection.QueryAsync<SkuPrice>(new CommandDefinition(
            "SELECT sku, price FROM catalog_items WHERE sku = ANY(@Skus) ORDER BY sku", new { Skus = skus.ToArray() }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return prices.AsList();
    }

    /// <summary>Changes price and/or stock; every change bumps the version the cache compares against. With
    /// <paramref name="announce"/>, a CatalogItemChanged outbox row commits with the change (it drives the invalidation).</summary>
    public async Task<CatalogItem?> UpdateAsync(string sku, decimal? price, int? available, CancellationToken ct, bool announce = false)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // Lock first: a reservation in flight holds the row until its reservation rows commit, and the UPDATE below
        // (a fresh READ COMMITTED snapshot) then counts them in received.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT 1 FROM catalog_items WHERE sku = @Sku FOR UPDATE", new { Sku = sku }, tx, cancellationToken: ct));
        var item = await connection.QuerySingleOrDefaultAsync<CatalogItem>(new CommandDefinition($"""
            UPDATE catalog_items
            SET price = COALESCE(@Price, price), available = COALESCE(@Available, available), version = version + 1,
                -- stock accounting: a new stock figure means received = that stock + the units already reserved
                received = CASE WHEN @Available::int IS NULL THEN received
                                ELSE @Available + (SELECT coalesce(sum(quantity), 0) FROM reservations WHERE sku = @Sku) END
            WHERE sku = @Sku
            RETURNING {Columns}
            """, new { Sku = sku, Price = price, Available = available }, tx, cancellationToken: ct));
        if (item is not null && announce) await OutboxWriter.EnqueueAsync(connection, tx, new CatalogItemChanged(item.Sku, item.Version), ct);
        await tx.CommitAsync(ct);
        return item;
    }
}
