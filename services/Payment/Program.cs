// Payment: a payment-provider simulator with a capacity model and idempotent charges. Table of contents:
using ReliableShop.Payment.Authorizations;
using ReliableShop.Payment.Capacity;
using ReliableShop.Payment.Database;
using ReliableShop.Payment.Faults;
using ReliableShop.Payment.Invariants;
using ReliableShop.Payment.Telemetry;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();                                          // ServiceDefaults/: telemetry, health, ProblemDetails
builder.AddAdminKey();                                                 // Admin:Key guards /admin
builder.AddFailureModes();                                             // ServiceDefaults/FailureModes: toggles
builder.AddNpgsqlDataSource("payments");                               // ConnectionStrings:payments
builder.Services.AddDatabaseMigrations(PaymentsSchema.Initial, SessionTimeouts.Migration("0021_session_timeouts"));        // Database/: authorizations, captures, voids
builder.Services.AddCapacityModel();                                   // Capacity/: Slots × ServiceTimeMs, real queueing
builder.Services.AddPaymentFaults();                                   // Faults/: what active failure modes impose on charges
builder.Services.AddPaymentTelemetry();                                // Telemetry/: requests, faults; /admin/stats "payment"
builder.Services.AddSingleton<AuthorizationStore>();                   // Authorizations/: unique insert, conditional UPDATEs
builder.Services.AddOpenApi();

var app = builder.Build();

app.MapDefaultEndpoints();                                             // /health, /alive
app.MapOpenApi();                                                      // /openapi/v1.json
app.MapAuthorizationsApi();                                            // /api/payments/authorizations
app.MapAdminGroup().MapCapacityAdminApi();                             // GET, PUT /admin/capacity
app.MapFailureModesAdmin();                                            // /admin/failure-modes
app.MapDrillStatsAdmin();                                              // /admin/stats
app.MapPaymentInvariants();                                            // Invariants/: GET /admin/invariants (+ /authorizations)

app.Run();

public partial class Program;
