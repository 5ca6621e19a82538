// In-test stand-ins for Inventory and Payment behind the typed clients' primary handler: they answer like the real
// APIs (contract in the design doc), count every attempt that reaches them, and can fail or block on demand.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;

namespace ReliableShop.Ordering.Tests;

public sealed class FakeInventory : HttpMessageHandler
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>While true every call is answered 503, as an overloaded Inventory would.</summary>
    public volatile bool Down;

    public static decimal PriceOf(string sku) => 1.50m + int.Parse(sku[4..], System.Globalization.CultureInfo.InvariantCulture);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (Down) return Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var skus = QueryHelpers.ParseQuery(request.RequestUri!.Query)["skus"].ToString().Split(',');
        var known = skus.Where(s => s.StartsWith("SKU-00", StringComparison.Ordinal) && s.Length == 8)
            .Select(s => new { sku = s, price = PriceOf(s) });
        return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(known) });
    }
}

public sealed class FakePayment : HttpMessageHandler
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Guid Id, string Body)> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, string> _status = new();
    private readonly ConcurrentDictionary<(Guid, string), int> _actions = new();
    private int _authorizeAttempts, _failNext;

    public int AuthorizeAttempts => Volatile.Read(ref _authorizeAttempts);

    /// <summary>Capture calls that reached Payment for <paramref name="authorizationId"/>.</summary>
    public int CapturesOf(Guid authorizationId) => _actions.GetValueOrDefault((authorizationId, "capture"));

    public int VoidsOf(Guid authorizationId) => _actions.GetValueOrDefault((authorizationId, "void"));
    public int Authorizations { get { lock (_gate) return _byKey.Count; } }

    /// <summary>X-Attempt header of every authorize attempt, in arrival order.</summary>
    public ConcurrentQueue<string> AttemptHeaders { get; } = new();

    /// <summary>Every call answers 503 while set.</summary>
    public volatile bool Down;

    private volatile TaskCompletionSource? _hold;
    private volatile TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>From now on authorize calls wait until <see cref="Release"/>; the task completes when the first one waits.</summary>
    public Task HoldAuthorizations()
    {
        _entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _entered.Task;
    }

    public void Release() => _hold?.TrySetResult();

    /// <summary>As if someone voided the authorization at Payment: a capture now answers 409.</summary>
    public void MarkVoided(Guid authorizationId) => _status[authorizationId] = "voided";

    /// <summary>The next <paramref name="count"/> calls answer 503 (with Retry-After when <paramref name="retryAfterSeconds"/> is set).</summary>
    public void FailNext(int count, int? retryAfterSeconds = null)
    {
        _failRetryAfter = retryAfterSeconds;
        Volatile.Write(ref _failNext, count);
    }

    private volatile object? _failRetryAfter;

    private HttpResponseMessage Unavailable()
    {
        var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        if (_failRetryAfter is int seconds) response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));
        return response;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        if (path.EndsWith("/capture", StringComparison.Ordinal)) return Act(path, "capture", "captured", "voided");
        if (path.EndsWith("/void", StringComparison.Ordinal)) return Act(path, "void", "voided", "captured");
        Interlocked.Increment(ref _authorizeAttempts);
        AttemptHeaders.Enqueue(request.Headers.TryGetValues("X-Attempt", out var v) ? string.Join(",", v) : "");
        if (Down || Interlocked.Decrement(ref _failNext) >= 0) return Unavailable();
        if (_hold is { } hold)
        {
            _entered.TrySetResult();
            await hold.Task.WaitAsync(cancellationToken);
        }
        return Authorize(request.Headers.GetValues("Idempotency-Key").Single(), await request.Content!.ReadAsStringAsync(cancellationToken));
    }

    private HttpResponseMessage Authorize(string key, string body)
    {
        lock (_gate)
        {
            if (_byKey.TryGetValue(key, out var existing))
            {
                return existing.Body == body ? Json(HttpStatusCode.OK, existing.Id, "authorized") : new HttpResponseMessage(HttpStatusCode.UnprocessableEntity);
            }
            var id = Guid.NewGuid();
            _byKey[key] = (id, body);
            _status[id] = "authorized";
            return Json(HttpStatusCode.Created, id, "authorized");
        }
    }

    private HttpResponseMessage Act(string path, string action, string target, string conflicting)
    {
        var id = Guid.Parse(path.Split('/')[^2]);
        _actions.AddOrUpdate((id, action), 1, (_, n) => n + 1);
        if (Down) return new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        lock (_gate)
        {
            if (!_status.TryGetValue(id, out var status)) return new HttpResponseMessage(HttpStatusCode.NotFound);
            if (status == conflicting) return new HttpResponseMessage(HttpStatusCode.Conflict);
            _status[id] = target;
            return Json(HttpStatusCode.OK, id, target);
        }
    }

    private static HttpResponseMessage Json(HttpStatusCode code, Guid id, string status) =>
        new(code) { Content = JsonContent.Create(new { id, status, currency = "EUR" }, options: JsonSerializerOptions.Web) };
}
