// Order placements as drill traffic: each call places a new order (its own Idempotency-Key) on one of a few SKUs with
// plenty of stock, and classifies the answer the way the drills count it — 201/200 placed, 202 accepted as
// PaymentPending (the circuit-breaker fallback), 429/503 shed, anything else (or no answer) an error. Through one
// HttpClient the calls reach whichever replica its pooled connection leads to (Aspire's proxy balances connections, not
// requests); through ReplicaClients they alternate over the replicas, as an L7 load balancer would spread them.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using ReliableShop.TestServers;

namespace ReliableShop.SystemTests.Drills;

public sealed class OrderTraffic(Func<HttpClient> ordering, IReadOnlyList<string> skus, bool pendingIsSuccess = true)
{
    public OrderTraffic(HttpClient ordering, IReadOnlyList<string> skus, bool pendingIsSuccess = true)
        : this(() => ordering, skus, pendingIsSuccess)
    {
    }

    private readonly ConcurrentDictionary<int, long> statuses = new();
    private readonly ConcurrentDictionary<string, long> unavailable = new(); // 503s by what the problem names as the cause

    /// <summary>The SKUs every issue-4 drill orders: stock is raised so no drill is limited by it.</summary>
    public static readonly string[] DrillSkus = [.. Enumerable.Range(31, 10).Select(i => $"SKU-{i:0000}")];

    public IReadOnlyDictionary<int, long> Statuses => statuses;
    public long Count(int status) => statuses.GetValueOrDefault(status);
    /// <summary>Orders Ordering's door refused before any work (429, 503 "Too many requests in flight" or "Waited too
    /// long for admission"): they never became a request to a dependency.</summary>
    public long ShedAtTheDoor => Count(429) + unavailable.GetValueOrDefault(OrderingAdmission.InFlightTitle)
        + unavailable.GetValueOrDefault(OrderingAdmission.StaleTitle);

    public long ServerErrors => statuses.Where(s => s.Key >= 500 && s.Key != 503).Sum(s => s.Value) + Count(503);

    public static async Task RaiseStockAsync(SystemFixture system, CancellationToken ct)
    {
        foreach (var sku in DrillSkus) await system.SetStockAsync(sku, 1_000_000, ct);
    }

    /// <summary>
    /// Light traffic before a baseline, 5 s windows at 10/s until one window has every order answered 2xx (at most
    /// <see cref="WarmUpWindows"/>): JIT, pools, caches and connections warm. A cold start can stall the host for a
    /// second — a run of the overload drill alone (2026-12-07, 16:37 UTC) timed out its first price reads during the
    /// warm-up, Ordering's Inventory breaker opened, and the first capacity step read 68 of 100 refused "circuit-open".
    /// </summary>
    public static Task WarmUpAsync(HttpClient ordering, CancellationToken ct) => WarmUpAsync(() => ordering, ct);

    /// <inheritdoc cref="WarmUpAsync(HttpClient, CancellationToken)"/>
    public static async Task WarmUpAsync(Func<HttpClient> ordering, CancellationToken ct)
    {
        for (var window = 1; ; window++)
        {
            var traffic = new OrderTraffic(ordering, DrillSkus);
            var report = await OpenLoopLoad.RunAsync("warm-up", new LoadOptions([LoadStage.Constant(10, TimeSpan.FromSeconds(5))], TimeSpan.FromSeconds(1),
                RequestTimeout: TimeSpan.FromSeconds(30)), traffic.PlaceAsync, ct);
            if (report.Succeeded == report.Sent) return;
            if (window == WarmUpWindows)
            {
                throw new InvalidOperationException($"The system did not answer every order of a 5 s warm-up window in {WarmUpWindows} windows; the last: {traffic}");
            }
        }
    }

    private const int WarmUpWindows = 6;

    public async Task<Outcome> PlaceAsync(int i, CancellationToken ct)
    {
        using var request = Placement("/api/orders", i);
        HttpResponseMessage response;
        try
        {
            response = await ordering().SendAsync(request, ct);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            statuses.AddOrUpdate(0, 1, (_, n) => n + 1); // 0 = no answer (timed out or connection failed)
            return Outcome.Error;
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                unavailable.AddOrUpdate(await CauseAsync(response, ct), 1, (_, n) => n + 1);
            }
            return response.StatusCode switch
            {
                HttpStatusCode.Created or HttpStatusCode.OK => Outcome.Success,
                HttpStatusCode.Accepted => pendingIsSuccess ? Outcome.Success : Outcome.Error,
                HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable => Outcome.Rejected,
                _ => Outcome.Error,
            };
        }
    }

    /// <summary>
    /// The floor beside the placements: the same request — POST, the same JSON body and headers — to /alive (no limiter, no
    /// I/O), its body read back as a rejection's is. What any answer of that shape costs on this host under the load of the
    /// moment, the generator's own work included; the overload drill judges the door's rejections against it.
    /// </summary>
    public async Task<Outcome> FloorAsync(int i, CancellationToken ct)
    {
        using var request = Placement("/alive", i);
        using var response = await ordering().SendAsync(request, ct);
        await response.Content.ReadAsStringAsync(ct);
        return response.IsSuccessStatusCode ? Outcome.Success : Outcome.Error;
    }

    private HttpRequestMessage Placement(string path, int i)
    {
        var body = new { customerId = "drill", items = new[] { new { sku = skus[i % skus.Count], quantity = 1 } } };
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        return request;
    }

    // Ordering's 503 problem names the dependency and reason (payment/breaker-open, inventory/timeout, …); admission's
    // shedding has only a title.
    internal static async Task<string> CauseAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            using var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = problem.RootElement;
            return root.TryGetProperty("dependency", out var dependency)
                ? $"{dependency.GetString()}/{(root.TryGetProperty("reason", out var reason) ? reason.GetString() : "?")}"
                : root.TryGetProperty("title", out var title) ? title.GetString() ?? "?" : "?";
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or HttpRequestException or OperationCanceledException)
        {
            return "unreadable body";
        }
    }

    public override string ToString() =>
        "statuses: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{(s.Key == 0 ? "none" : s.Key.ToString())}×{s.Value}")) +
        (unavailable.IsEmpty ? "" : " (503: " + string.Join(", ", unavailable.OrderByDescending(u => u.Value).Select(u => $"{u.Key} ×{u.Value}")) + ")");
}

/// <summary>
/// Ordering's admission control as the drills see it: the titles of the 503s it answers
/// (services/Ordering/Admission/AdmissionControl.cs) and its per-replica limits, read from the appsettings.json the
/// services run with — one source, so a drill's bound cannot drift from the configuration.
/// </summary>
public static class OrderingAdmission
{
    public const string InFlightTitle = "Too many requests in flight";
    public const string StaleTitle = "Waited too long for admission";

    private static readonly Lazy<(int Permits, int Queue, TimeSpan MaxFollowUpLag)> Limits = new(() =>
    {
        var path = Path.Combine(Servers.RepositoryRoot(), "services", "Ordering", "appsettings.json");
        using var settings = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path),
            new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var admission = settings.RootElement.GetProperty("Admission");
        return (admission.GetProperty("PermitLimit").GetInt32(), admission.GetProperty("QueueLimit").GetInt32(),
            TimeSpan.Parse(admission.GetProperty("MaxFollowUpLag").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
    });

    /// <summary>Placements one replica admits at once, running or queued (Admission:PermitLimit + QueueLimit).</summary>
    public static int WritesBound => Limits.Value.Permits + Limits.Value.Queue;

    /// <summary>How far the follow-up work (reservation, capture) may fall behind before overload contain's door sheds
    /// (Admission:MaxFollowUpLag, FollowUpBacklog.cs).</summary>
    public static TimeSpan MaxFollowUpLag => Limits.Value.MaxFollowUpLag;

    /// <summary>The follow-up age from which overload contain's door starts to shed a share of placements: half of
    /// Admission:MaxFollowUpLag (FollowUpBacklog.ShedFrom).</summary>
    public static TimeSpan FollowUpShedFrom => MaxFollowUpLag / 2;
}
