// POST /admin/reservations/pause and /resume (behind the admin key): stop consuming OrderPlaced — deliveries stay at the
// broker — and start again. Both answer once the endpoint has stopped or is ready, with the "reservations" stats.
// Doc: docs/failure-modes/overload.md
using Microsoft.AspNetCore.Http.HttpResults;

namespace ReliableShop.Inventory.Reservations;

public static class ReservationsAdminApi
{
    public static RouteGroupBuilder MapReservationsAdminApi(this RouteGroupBuilder admin)
    {
        var group = admin.MapGroup("/reservations").WithTags("Admin");
        group.MapPost("/pause", PauseAsync);
        group.MapPost("/resume", ResumeAsync);
        return admin;
    }

    public static async Task<Ok<ReservationsStats>> PauseAsync(OrderPlacedIntake intake, CancellationToken ct)
    {
        await intake.PauseAsync(ct);
        return TypedResults.Ok(intake.Snapshot());
    }

    public static async Task<Ok<ReservationsStats>> ResumeAsync(OrderPlacedIntake intake, CancellationToken ct)
    {
        await intake.ResumeAsync(ct);
        return TypedResults.Ok(intake.Snapshot());
    }
}
