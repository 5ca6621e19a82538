// Keeps this replica's snapshot equal to the shared store: LISTEN for the change signal on a dedicated connection,
// and poll every second as the fallback (a missed NOTIFY, a reconnect). Logs each change once, per service.
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ReliableShop.FailureModes;

internal sealed partial class FailureModeSync(
    FailureModeStore store, FailureModeToggles toggles, ControlDatabase control, TimeProvider time, ILogger<FailureModeSync> logger)
    : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private readonly SemaphoreSlim signal = new(0, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = ListenAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogStoreUnavailable(e.Message); // keep the last snapshot; retry on the next tick
            }
            try
            {
                await signal.WaitAsync(PollInterval, stoppingToken); // woken early by NOTIFY
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        var before = toggles.Current;
        var after = await store.LoadAsync(ct);
        if (!toggles.Replace(after)) return;
        foreach (var mode in after.Active.Where(m => before[m.Id].State != m.State || before[m.Id].Since != m.Since))
        {
            LogModeChanged(mode.Id, mode.State, string.Join(", ", mode.Parameters.Select(p => $"{p.Key}={p.Value}")));
        }
        foreach (var mode in before.Active.Where(m => !after[m.Id].FaultInjected))
        {
            LogModeOff(mode.Id);
        }
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await control.DataSource.OpenConnectionAsync(ct);
                connection.Notification += (_, _) => Wake();
                await using (var listen = new NpgsqlCommand($"LISTEN {FailureModeStore.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(ct);
                }
                Wake(); // anything that changed while we were not listening
                while (!ct.IsCancellationRequested) await connection.WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.IO.IOException)
            {
                LogListenFailed(e.Message);
                await Task.Delay(PollInterval, time, ct).ContinueWith(_ => { }, TaskScheduler.Default); // polling covers the gap
            }
        }
    }

    private void Wake()
    {
        try { signal.Release(); } catch (SemaphoreFullException) { /* already signalled */ }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failure mode {Id} is now {State} ({Parameters}): faults are injected on purpose")]
    private partial void LogModeChanged(string id, FailureModeState state, string parameters);

    [LoggerMessage(Level = LogLevel.Information, Message = "Failure mode {Id} is now off")]
    private partial void LogModeOff(string id);

    [LoggerMessage(Level = LogLevel.Debug, Message = "LISTEN on the failure-mode channel lost, polling until it is back: {Reason}")]
    private partial void LogListenFailed(string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Failure-mode store unavailable, keeping the last known states: {Reason}")]
    private partial void LogStoreUnavailable(string reason);
}
