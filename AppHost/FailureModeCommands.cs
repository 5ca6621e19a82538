// Dashboard buttons for the failure modes: on each service, "<mode>: reproduce | contain | off" for every mode whose
// first affected service it is (13 modes × 3 states spread over the three resources), each behind a confirmation.
// A click calls PUT /admin/failure-modes/{id} on that service; the shared store carries it to every replica.
using System.Net.Http.Json;
using ReliableShop.FailureModes;

namespace ReliableShop.AppHost;

internal static class FailureModeCommands
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public static IResourceBuilder<ProjectResource> WithFailureModeCommands(
        this IResourceBuilder<ProjectResource> service, IResourceBuilder<ParameterResource> adminKey)
    {
        foreach (var mode in FailureModeCatalog.All.Where(m => m.Services[0] == service.Resource.Name))
        {
            foreach (var state in new[] { "reproduce", "contain", "off" })
            {
                service.WithCommand($"failure-mode-{mode.Id}-{state}", $"{mode.Id}: {state}",
                    context => SetAsync(service.Resource, adminKey.Resource, mode.Id, state, context.CancellationToken),
                    new CommandOptions
                    {
                        Description = $"{mode.Title} — {mode.Description}",
                        ConfirmationMessage = state == "off"
                            ? $"Turn {mode.Id} off on every service?"
                            : $"Put {mode.Id} in {state} on every service? ({(state == "reproduce" ? "fault + naive code: the failure will be visible" : "fault + control: it should hold")})",
                        IconName = state switch { "reproduce" => "Warning", "contain" => "ShieldCheckmark", _ => "Checkmark" },
                    });
            }
        }
        return service;
    }

    private static async Task<ExecuteCommandResult> SetAsync(ProjectResource service, ParameterResource adminKey, string id, string state, CancellationToken ct)
    {
        var endpoint = service.GetEndpoint("http");
        using var request = new HttpRequestMessage(HttpMethod.Put, $"{endpoint.Url}/admin/failure-modes/{id}")
        {
            Content = JsonContent.Create(new { state }),
        };
        request.Headers.Add("X-Admin-Key", await adminKey.GetValueAsync(ct));
        using var response = await Http.SendAsync(request, ct);
        return response.IsSuccessStatusCode
            ? CommandResults.Success()
            : CommandResults.Failure($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
    }
}
