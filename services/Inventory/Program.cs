// Inventory: catalog (Redis cache-aside over PostgreSQL) and stock reservation (OrderPlaced → StockReserved |
// StockRejected through the outbox). Table of contents:
using ReliableShop.Inventory.Admin;
using ReliableShop.Inventory.Catalog;
using ReliableShop.Inventory.Database;
using ReliableShop.Inventory.Invariants;
using ReliableShop.Inventory.Reservations;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();                                                         // ServiceDefaults/: telemetry, health, ProblemDetails
builder.AddAdminKey();                                                                // Admin:Key guards /admin
builder.AddFailureModes();                                                            // ServiceDefaults/FailureModes: toggles
builder.AddNpgsqlDataSource("inventory");                                             // ConnectionStrings:inventory
builder.Services.AddDatabaseMigrations(InventorySchema.All);                          // Database/: catalog, reservations, outbox, stock accounting
builder.AddCatalog();                                                                 // Catalog/: store + Redis cache (ConnectionStrings:redis)
builder.AddReservations();                                                            // Reservations/: OrderPlaced consumer, outbox relay
builder.Services.AddCatalogViews();                                                   // Catalog/CatalogViews*.cs: view counts, written behind (overload); stops first, drains
builder.Services.AddInventoryStats();                                                 // Admin/InventoryStats.cs: sections of /admin/stats
builder.Services.AddOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints();                                                            // /health, /alive
app.MapOpenApi();                                                                     // /openapi/v1.json
app.MapCatalogApi();                                                                  // /api/catalog/items, /api/catalog/prices
app.MapCatalogViewsApi();                                                             // POST /api/catalog/items/{sku}/views
app.MapAdminGroup().MapCatalogAdminApi()                                              // PUT /admin/catalog/items/{sku}
    .MapReservationsAdminApi();                                                       // POST /admin/reservations/pause, /resume
app.MapFailureModesAdmin();                                                           // /admin/failure-modes
app.MapDrillStatsAdmin();                                                             // /admin/stats
app.MapInventoryInvariants();                                                         // Invariants/: GET /admin/invariants (+ /outcomes)

app.Run();

public partial class Program;
