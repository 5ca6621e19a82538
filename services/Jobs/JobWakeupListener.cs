// Guarantee: a committed job wakes an idle worker within milliseconds (LISTEN on one dedicated connection).
// Failure handled: the connection drops (PostgreSQL restart, network) → reconnect with a delay; polling covers the gap.
// Doc: docs/failure-modes/skip-locked-queue.md
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ReliableShop.Jobs;

internal sealed class JobWakeupListener(
    NpgsqlDataSource dataSource, JobWakeup wakeup, TimeProvider time, ILogger<JobWakeupListener> logger) : BackgroundService
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(2);
    // An idle LISTEN connection is pinged this often, so a silently dead connection is noticed and replaced.
    private static readonly TimeSpan IdlePing = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "LISTEN {Channel} lost; polling continues, reconnecting in {Delay}", JobQueue.Channel, ReconnectDelay);
            }
            try
            {
                await Task.Delay(ReconnectDelay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        // Held for the host's lifetime: this takes one connection of the data source's pool.
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        connection.Notification += (_, _) => wakeup.Signal();
        await using (var listen = new NpgsqlCommand($"LISTEN {JobQueue.Channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(ct);
        }
        wakeup.Signal(); // jobs committed while we were not listening
        while (true)
        {
            if (!await connection.WaitAsync(IdlePing, ct))
            {
                await using var ping = new NpgsqlCommand("SELECT 1", connection);
                await ping.ExecuteNonQueryAsync(ct);
            }
        }
    }
}
