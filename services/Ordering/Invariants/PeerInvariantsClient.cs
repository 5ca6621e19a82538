// Reads Inventory's and Payment's invariants (report + list) for the system view, through service discovery with
// the admin key. A peer that does not answer within 3 s is reported, never thrown: "unreachable.<service>" is a
// violation of its own, and the endpoint still answers 200 with everything else. Doc: docs/architecture.md
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ReliableShop.Ordering.Clients;

namespace ReliableShop.Ordering.Invariants;

public sealed record PeerReport(string Service, Dictionary<string, long> Violations, long Total);

public sealed record PeerRead<T>(PeerReport Report, List<T> Rows);

public sealed class PeerInvariantsClient(HttpClient http, IOptions<ServicesOptions> services, ILogger<PeerInvariantsClient> logger)
{
    // An admin read, not a customer path: no retries and no breaker; k6 gives the whole read 10 s, so each peer gets 3.
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    public Task<PeerRead<PeerOutcome>?> ReadInventoryAsync(CancellationToken ct) =>
        ReadAsync<PeerOutcome>("inventory", services.Value.Inventory, "outcomes", ct);

    public Task<PeerRead<PeerAuthorization>?> ReadPaymentAsync(CancellationToken ct) =>
        ReadAsync<PeerAuthorization>("payment", services.Value.Payment, "authorizations", ct);

    private async Task<PeerRead<T>?> ReadAsync<T>(string service, string baseAddress, string list, CancellationToken ct)
    {
        try
        {
            var report = http.GetFromJsonAsync<PeerReport>(new Uri(new Uri(baseAddress), "/admin/invariants"), ct);
            var rows = http.GetFromJsonAsync<List<T>>(new Uri(new Uri(baseAddress), $"/admin/invariants/{list}"), ct);
            await Task.WhenAll(report, rows);
            return new PeerRead<T>(await report ?? throw new JsonException("empty report"), await rows ?? throw new JsonException("empty list"));
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("Invariants of {Service} unreadable ({Error}); reported as unreachable.{Service}", service, e.Message, service);
            return null;
        }
    }
}

public static class PeerInvariantsClientRegistration
{
    public static IServiceCollection AddOrderingInvariants(this IServiceCollection services)
    {
        services.AddHttpClient<PeerInvariantsClient>((sp, http) =>
        {
            http.Timeout = PeerInvariantsClient.Timeout;
            http.DefaultRequestHeaders.Add(AdminOptions.HeaderName, sp.GetRequiredService<IOptions<AdminOptions>>().Value.Key);
        });
        return services;
    }
}
