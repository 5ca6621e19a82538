// The relay: every committed outbox row reaches the broker at least once — a batch's publishes started in created_at
// order with their confirms awaited together, retried with backoff through broker and database outages, dead-lettered after MaxAttempts, never lost.
// Doc: docs/failure-modes/outbox.md
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ReliableShop.Outbox;

internal sealed partial class OutboxRelay(
    NpgsqlDataSource dataSource,
    IOutboxPublisher publisher,
    OutboxMessageTypes types,
    IOptions<OutboxOptions> options,
    OutboxMetrics metrics,
    TimeProvider time,
    ILogger<OutboxRelay> logger,
    IOutboxFaults faults) : BackgroundService
{
    private readonly OutboxOptions _options = options.Value;
    private readonly OutboxStore _store = new(dataSource);

    private enum Outcome { Idle, MoreDue, Failed }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var wake = new WakeSignal();
        var listener = new OutboxListener(dataSource, wake, time, logger).RunAsync(stoppingToken);
        var cleanup = new OutboxCleanup(dataSource, time, logger).RunAsync(
            TimeSpan.FromHours(_options.RetentionHours), TimeSpan.FromSeconds(_options.CleanupIntervalSeconds), stoppingToken);
        var delivery = new OutboxDelivery(_store, publisher, types, _options, metrics, time, logger, faults);
        try
        {
            await RelayLoopAsync(delivery, wake, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping: unpublished claimed rows were released; the listener and cleanup end with the same token
        }
        await Task.WhenAll(listener, cleanup);
    }

    private async Task RelayLoopAsync(OutboxDelivery delivery, WakeSignal wake, CancellationToken ct)
    {
        var consecutiveFailures = 0;
        while (!ct.IsCancellationRequested)
        {
            var outcome = await RelayBatchSafelyAsync(delivery, ct);
            consecutiveFailures = outcome == Outcome.Failed ? consecutiveFailures + 1 : 0;
            if (outcome == Outcome.MoreDue) continue;
            if (outcome == Outcome.Failed)
            {
                // Broker or database trouble: pause (NOTIFY does not cut it short), so an outage costs a few attempts,
                // not a hot loop. Rows stay pending meanwhile; nothing is lost.
                var pause = Backoff.Next(consecutiveFailures,
                    TimeSpan.FromMilliseconds(_options.RetryBaseDelayMs), TimeSpan.FromMilliseconds(_options.RetryMaxDelayMs), Random.Shared);
                await Task.Delay(pause, time, ct);
                continue;
            }
            await wake.WaitAsync(TimeSpan.FromMilliseconds(_options.PollIntervalMs), time, ct);
        }
    }

    private async Task<Outcome> RelayBatchSafelyAsync(OutboxDelivery delivery, CancellationToken ct)
    {
        try
        {
            return await RelayBatchAsync(delivery, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            LogBatchFailed(e);
            return Outcome.Failed;
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            return Outcome.Idle; // stopping: a publish cut short is retried by whoever claims the row next
        }
    }

    private async Task<Outcome> RelayBatchAsync(OutboxDelivery delivery, CancellationToken ct)
    {
        var token = Guid.NewGuid();
        var lease = TimeSpan.FromSeconds(_options.LeaseSeconds);
        var leaseEnds = time.GetUtcNow() + lease; // taken before the claim: conservative against the DB's lease end
        var rows = await _store.ClaimAsync(token, _options.BatchSize, lease, ct);
        Guid[] unsettled = [.. rows.Select(r => r.Id)];
        try
        {
            if (rows.Count == 0) return Outcome.Idle;
            // Start no publish that could outlive the lease: another relay may claim the row then (a duplicate).
            if (time.GetUtcNow() + TimeSpan.FromMilliseconds(_options.PublishTimeoutMs) >= leaseEnds) return Outcome.MoreDue;
            (var failed, unsettled) = await delivery.DeliverBatchAsync(rows, token, ct);
            // A failed row waits its backoff; the other unpublished rows go back to pending at once (below).
            if (failed) return Outcome.Failed;
            return rows.Count == _options.BatchSize ? Outcome.MoreDue : Outcome.Idle;
        }
        finally
        {
            if (unsettled.Length > 0) await ReleaseQuietlyAsync(unsettled, token);
        }
    }

    private async Task ReleaseQuietlyAsync(Guid[] ids, Guid token)
    {
        try
        {
            // Not the stopping token: on shutdown too, so other replicas get the rows now rather than after the lease.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), time);
            await _store.ReleaseAsync(ids, token, timeout.Token);
        }
        catch (Exception e)
        {
            LogReleaseFailed(e, ids.Length);
        }
    }

    [LoggerMessage(LogLevel.Warning, "Outbox relay batch failed; backing off")]
    private partial void LogBatchFailed(Exception e);

    [LoggerMessage(LogLevel.Warning, "Outbox relay could not release {Count} claimed rows; they return when the lease expires")]
    private partial void LogReleaseFailed(Exception e, int count);
}
