using Microsoft.AspNetCore.Http.HttpResults;

namespace ReliableShop.Payment.Capacity;

public sealed record CapacityState(int Slots, double ServiceTimeMs, int InUse, int Queued);

public static class CapacityAdminApi
{
    /// <summary>GET /admin/capacity: the capacity model's current size and load (admin key required).</summary>
    public static RouteGroupBuilder MapCapacityAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/capacity", GetCapacity).WithTags("Admin");
        return admin;
    }

    public static Ok<CapacityState> GetCapacity(CapacityModel capacity) =>
        TypedResults.Ok(new CapacityState(capacity.Slots, capacity.ServiceTime.TotalMilliseconds, capacity.InUse, capacity.Queued));
}
