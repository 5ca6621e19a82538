// Wake-up signal: LISTEN on a dedicated connection turns each committed enqueue into a relay sweep within milliseconds
// instead of up to PollIntervalMs. Handles a dropped connection (DB restart, terminated backend): reconnects with
// backoff and sweeps once after each (re)connect, since notifications sent while disconnected are gone.
// Doc: docs/failure-modes/outbox.md
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ReliableShop.Outbox;

internal sealed class OutboxListener(NpgsqlDataSource dataSource, WakeSignal wake, TimeProvider time, ILogger logger)
{
    public const string ApplicationName = "reliableshop-outbox-listener";

    // Reconnect backoff: 0.5 s doubling to 10 s — fast after a blip, gentle on a database that is down.
    private static readonly TimeSpan ReconnectBase = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ReconnectMax = TimeSpan.FromSeconds(10);

    // An idle LISTEN connection is probed every 30 s, so a silently dead one is noticed and replaced.
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(30);

    public async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(() => failures = 0, ct);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return; // stopping
            }
            catch (Exception e)
            {
                failures++;
                logger.LogWarning(e, "Outbox LISTEN connection lost (failure {Failures}); relay falls back to polling until it reconnects", failures);
                await DelayAsync(Backoff.Next(failures, ReconnectBase, ReconnectMax, Random.Shared), ct);
            }
        }
    }

    private async Task ListenAsync(Action connected, CancellationToken ct)
    {
        // Holds one pooled connection for the life of the relay (size pools with +1 per service instance).
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        connection.Notification += (_, _) => wake.Set();
        await using (var listen = new NpgsqlCommand(
            $"SET application_name = '{ApplicationName}'; LISTEN {OutboxWriter.NotifyChannel}", connection))
        {
            await listen.ExecuteNonQueryAsync(ct);
        }
        connected();
        wake.Set(); // rows committed while we were not listening
        while (!ct.IsCancellationRequested)
        {
            if (!await connection.WaitAsync(ProbeInterval, ct))
            {
                await using var probe = new NpgsqlCommand("SELECT 1", connection);
                await probe.ExecuteNonQueryAsync(ct);
            }
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, time, ct);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}
