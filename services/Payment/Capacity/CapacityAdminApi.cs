// GET /admin/capacity: the capacity model's current size and load, and the configured size (what it returns to when no
// failure mode overrides it). PUT /admin/capacity {"slots"?, "serviceTimeMs"?}: changes the configured capacity at
// runtime (an active failure mode may still override it, e.g. retry-storm's cut).
using Microsoft.AspNetCore.Http.HttpResults;
using ReliableShop.Payment.Faults;

namespace ReliableShop.Payment.Capacity;

/// <param name="Configured">The size without faults: a caller that changes the capacity for a while restores THIS, never
/// the current size (which may be a fault's override).</param>
public sealed record CapacityState(int Slots, double ServiceTimeMs, int InUse, int Queued, ConfiguredCapacity Configured);

public sealed record ConfiguredCapacity(int Slots, double ServiceTimeMs);

public sealed record CapacityChange(int? Slots, int? ServiceTimeMs);

public static class CapacityAdminApi
{
    public static RouteGroupBuilder MapCapacityAdminApi(this RouteGroupBuilder admin)
    {
        admin.MapGet("/capacity", GetCapacity).WithTags("Admin");
        admin.MapPut("/capacity", SetCapacity).WithTags("Admin");
        return admin;
    }

    public static Ok<CapacityState> GetCapacity(CapacityModel capacity) =>
        TypedResults.Ok(new CapacityState(capacity.Slots, capacity.ServiceTime.TotalMilliseconds, capacity.InUse, capacity.Queued,
            new ConfiguredCapacity(capacity.Configured.Slots, capacity.Configured.ServiceTime.TotalMilliseconds)));

    public static Results<Ok<CapacityState>, ValidationProblem> SetCapacity(CapacityChange change, CapacityModel capacity, PaymentFaults faults)
    {
        var errors = new Dictionary<string, string[]>();
        if (change is { Slots: null, ServiceTimeMs: null })
            errors["body"] = ["give slots and/or serviceTimeMs"];
        if (change.Slots is < 1 or > CapacityOptions.MaxSlots)
            errors["slots"] = [$"must be in [1, {CapacityOptions.MaxSlots}]; was {change.Slots}"];
        if (change.ServiceTimeMs is < 0 or > CapacityOptions.MaxServiceTimeMs)
            errors["serviceTimeMs"] = [$"must be in [0, {CapacityOptions.MaxServiceTimeMs}]; was {change.ServiceTimeMs}"];
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var configured = capacity.Configured;
        capacity.Configure(new CapacitySize(change.Slots ?? configured.Slots,
            change.ServiceTimeMs is { } ms ? TimeSpan.FromMilliseconds(ms) : configured.ServiceTime));
        faults.SyncCapacity();
        return GetCapacity(capacity);
    }
}
