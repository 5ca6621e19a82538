// Ordering: places orders (idempotent, admission-controlled, one short transaction with its outbox event) and drives
// them to Confirmed or Cancelled from Inventory's stock events via the job queue. One line per concern; the folder
// named in its comment holds the code, docs/ the why.
using ReliableShop.Contracts;
using ReliableShop.Ordering.Admin;
using ReliableShop.Ordering.Admission;
using ReliableShop.Ordering.Clients;
using ReliableShop.Ordering.Database;
using ReliableShop.Ordering.Fulfilment;
using ReliableShop.Ordering.Invariants;
using ReliableShop.Ordering.Orders;
using ReliableShop.Ordering.Telemetry;
using ReliableShop.Outbox;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();                                      // ServiceDefaults: telemetry, health, discovery, ProblemDetails
builder.AddAdminKey();                                             // /admin/* requires X-Admin-Key
builder.AddFailureModes();                                         // ServiceDefaults/FailureModes: toggles (ConnectionStrings:control)
builder.AddBudgetedNpgsqlDataSource("orders");                     // ConnectionStrings:orders; pool = ConnectionBudget ÷ replicas, checked at start
builder.Services.AddOrderingDatabase();                            // Database/: migrations run before anything below starts
builder.Services.AddOrderingMetrics();                             // Telemetry/: reliableshop.ordering.*
builder.Services.AddOrderingStats();                               // Admin/OrderingStats.cs: sections of /admin/stats
builder.Services.AddOutbox(types => types.Add<OrderPlaced>());     // services/Outbox: relay publishes OrderPlaced
builder.Services.AddFulfilmentJobs();                              // Fulfilment/: job queue + capture/void handlers
builder.AddMessaging(bus => bus.AddFulfilmentConsumers());         // Fulfilment/: StockReserved / StockRejected consumers
builder.Services.AddDependencyClients();                           // Clients/: Inventory + Payment, one pipeline each
builder.Services.AddAdmission();                                   // Admission/: concurrency limit on POST /api/orders
builder.Services.AddOrders();                                      // Orders/: limits, validation, bad-body mapping
builder.Services.AddOrderingInvariants();                          // Invariants/: peers' invariants (Inventory, Payment)
builder.Services.AddOpenApi();                                     // /openapi/v1.json

var app = builder.Build();
app.MapDefaultEndpoints();                                         // exception handler, /health, /alive
app.UseAdmission();                                               // Admission/: sheds before the body is read
app.UseBodyLimit();                                                // Orders/BodyLimit.cs: Orders:MaxBodyBytes
app.MapOrdersApi();                                                // Orders/OrdersApi.cs
app.MapFailureModesAdmin();                                        // /admin/failure-modes
app.MapDrillStatsAdmin();                                          // /admin/stats
app.MapOrderingAdminApi();                                         // Admin/: dead-letter replays
app.MapOrderingInvariants();                                       // Invariants/: GET /admin/invariants, the system view
app.MapOpenApi();
app.Run();

public partial class Program;
