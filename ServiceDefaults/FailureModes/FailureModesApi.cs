// Admin API of the failure-mode toggles, on every service (all write the same shared store):
//   GET    /admin/failure-modes            every mode: state, parameters, definitions, title, doc
//   PUT    /admin/failure-modes/{id}       {"state": "reproduce", "parameters": {"paymentServiceTimeMs": 3000}}
//   DELETE /admin/failure-modes/{id}       back to off
//   POST   /admin/failure-modes/reset      every mode off
// Unknown id, unknown field or parameter, out-of-range value → 400 ProblemDetails naming it; nothing is stored.
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace ReliableShop.FailureModes;

public sealed record FailureModeView(
    string Id, string Title, string Description, string State, IReadOnlyDictionary<string, double> Parameters,
    IReadOnlyList<FailureModeParameter> ParameterDefinitions, string[] Services, string Doc);

internal static class FailureModesApi
{
    public static RouteGroupBuilder Map(RouteGroupBuilder group)
    {
        group.MapGet("/", List);
        group.MapPut("/{id}", SetAsync);
        group.MapDelete("/{id}", OffAsync);
        group.MapPost("/reset", ResetAsync);
        return group;
    }

    private static Ok<IEnumerable<FailureModeView>> List(FailureModeToggles toggles) =>
        TypedResults.Ok(FailureModeCatalog.All.Select(d => View(d, toggles.Current[d.Id])));

    private static async Task<Results<Ok<FailureModeView>, ValidationProblem>> SetAsync(
        string id, HttpRequest request, FailureModeStore store, FailureModeSync sync, FailureModeToggles toggles, CancellationToken ct)
    {
        if (FailureModeCatalog.Find(id) is not { } definition) return UnknownMode(id);
        JsonElement body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body, cancellationToken: ct);
        }
        catch (JsonException e)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"malformed JSON: {e.Message}"] });
        }
        var change = FailureModeChange.Parse(definition, body);
        if (change.Errors.Count > 0) return TypedResults.ValidationProblem(change.Errors);

        await store.SetAsync(id, change.State, change.Parameters, ct);
        await sync.RefreshAsync(ct); // this replica answers with the new state at once; the others follow within 1 s
        return TypedResults.Ok(View(definition, toggles.Current[id]));
    }

    private static async Task<Results<Ok<FailureModeView>, ValidationProblem>> OffAsync(
        string id, FailureModeStore store, FailureModeSync sync, FailureModeToggles toggles, CancellationToken ct)
    {
        if (FailureModeCatalog.Find(id) is not { } definition) return UnknownMode(id);
        await store.SetAsync(id, FailureModeState.Off, new Dictionary<string, double>(), ct);
        await sync.RefreshAsync(ct);
        return TypedResults.Ok(View(definition, toggles.Current[id]));
    }

    private static async Task<Ok<IEnumerable<FailureModeView>>> ResetAsync(
        FailureModeStore store, FailureModeSync sync, FailureModeToggles toggles, CancellationToken ct)
    {
        await store.ResetAsync(ct);
        await sync.RefreshAsync(ct);
        return List(toggles);
    }

    private static ValidationProblem UnknownMode(string id) => TypedResults.ValidationProblem(new Dictionary<string, string[]>
    {
        ["id"] = [$"unknown failure mode '{id}'; known: {string.Join(", ", FailureModeCatalog.All.Select(m => m.Id))}"],
    });

    private static FailureModeView View(FailureModeDefinition d, ActiveFailureMode mode) =>
        new(d.Id, d.Title, d.Description, mode.State.ToString().ToLowerInvariant(), mode.Parameters, d.Parameters, d.Services, d.DocPage);
}
