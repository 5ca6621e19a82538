// The HTTP reference of B5/B6: a bare minimal API with the same host defaults as the services (WebApplication,
// Kestrel, System.Text.Json web options) and nothing of ours — no ServiceDefaults, no telemetry, no resilience, no
// admission control. GET returns the catalog item JSON from memory; POST does PlaceOrderTransaction's INSERTs (order,
// lines, history, outbox row + NOTIFY) in one transaction, without the Inventory and Payment hops.
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;
using NpgsqlTypes;

namespace ReliableShop.Benchmarks;

internal static class BareApi
{
    public const string ModeVariable = "BENCH_BARE_API";
    public const string DatabaseVariable = "BENCH_BARE_DB";
    public const string ItemVariable = "BENCH_BARE_ITEM";

    public sealed record Item(string Sku, int Quantity);

    public sealed record Order(string CustomerId, Item[] Items);

    public static async Task RunAsync()
    {
        var builder = WebApplication.CreateBuilder();
        var item = JsonSerializer.Deserialize<JsonElement>(Environment.GetEnvironmentVariable(ItemVariable)!);
        await using var db = NpgsqlDataSource.Create(Environment.GetEnvironmentVariable(DatabaseVariable)!);
        var app = builder.Build();
        app.MapGet("/health", () => TypedResults.Ok());
        app.MapGet("/api/catalog/items/{sku}", (string sku) => TypedResults.Ok(item));
        app.MapPost("/api/orders", async (Order order, HttpRequest request, CancellationToken ct) =>
        {
            var id = Guid.CreateVersion7();
            await InsertAsync(db, id, request.Headers["Idempotency-Key"].ToString(), order, ct);
            return TypedResults.Created($"/api/orders/{id}", new { id, status = "Placed" });
        });
        await app.RunAsync();
    }

    private static async Task InsertAsync(NpgsqlDataSource db, Guid id, string key, Order order, CancellationToken ct)
    {
        const decimal price = 4.99m;
        var now = TimeProvider.System.GetUtcNow();
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using var batch = new NpgsqlBatch(connection, tx)
        {
            BatchCommands =
            {
                Command("""
                    INSERT INTO orders (id, idempotency_key, request_hash, customer_id, status, total, payment_authorization_id, created_at, updated_at)
                    VALUES ($1, $2, $3, $4, 'Placed', $5, $6, $7, $7) ON CONFLICT (idempotency_key) DO NOTHING
                    """, id, key, "hash", order.CustomerId, price * order.Items.Sum(i => i.Quantity), Guid.NewGuid(), now),
                Command("""
                    INSERT INTO order_lines (order_id, sku, quantity, unit_price)
                    SELECT $1, sku, quantity, unit_price FROM unnest($2::text[], $3::int[], $4::numeric[]) AS l (sku, quantity, unit_price)
                    """, id, order.Items.Select(i => i.Sku).ToArray(), order.Items.Select(i => i.Quantity).ToArray(),
                    order.Items.Select(_ => price).ToArray()),
                Command("INSERT INTO order_history (order_id, status, note, at) VALUES ($1, 'Placed', $2, $3)", id, "Authorized", now),
                Command("INSERT INTO outbox_messages (id, message_type, payload) VALUES ($1, $2, $3)",
                    Guid.CreateVersion7(), "ReliableShop.Contracts.OrderPlaced", new NpgsqlParameter { Value = JsonSerializer.Serialize(order), NpgsqlDbType = NpgsqlDbType.Jsonb }),
                new NpgsqlBatchCommand("NOTIFY bench_bare"),
            },
        };
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
        return command;
    }
}
