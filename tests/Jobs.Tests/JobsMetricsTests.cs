// Proves the queue is observable: Meter "ReliableShop.Jobs" exports outcome counters and the same queue numbers
// as JobsAdmin (depth, dead) — read through a MeterListener, as an OpenTelemetry exporter would.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ReliableShop.TestServers;
using static ReliableShop.Jobs.Tests.JobsTestHost;

namespace ReliableShop.Jobs.Tests;

public sealed class JobsMetricsTests
{
    [Fact]
    public async Task Metrics_JobsSucceedAndDie_CountersAndGaugesMatchAdminStats()
    {
        var db = await CreateDatabaseAsync();
        var host = Build(db, "a", s => s.AddJobHandler<RecordingHandler>("work").AddJobHandler<PermanentlyFailingHandler>("poison"));
        var values = new ConcurrentDictionary<string, double>();
        using var listener = Listen(host.Services.GetRequiredService<IMeterFactory>(), values);
        await host.StartAsync(Ct);
        await EnqueueAsync(db, "work");
        await EnqueueAsync(db, "poison");
        await EnqueueAsync(db, "nobody-handles-this");

        await Eventually.WaitAsync(() => Task.FromResult(Read(listener, values)),
            v => v.GetValueOrDefault("reliableshop.jobs.succeeded") == 1 && v.GetValueOrDefault("reliableshop.jobs.dead_lettered") == 1
                && v.GetValueOrDefault("reliableshop.jobs.depth") == 1 && v.GetValueOrDefault("reliableshop.jobs.dead") == 1,
            TimeSpan.FromSeconds(15), "metrics");
        var stats = await host.Services.GetRequiredService<JobsAdmin>().GetStatsAsync(Ct);
        Assert.Equal((1L, 0L, 1L), (stats.Queued, stats.Running, stats.Dead));
        Assert.Equal(1, values["reliableshop.jobs.failed"]);
        await host.StopAsync(Ct);
        host.Dispose();
    }

    private static MeterListener Listen(IMeterFactory meters, ConcurrentDictionary<string, double> values)
    {
        var listener = new MeterListener
        {
            // Only this host's meter: other tests' hosts publish instruments with the same names in parallel.
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == JobsExtensions.MeterName && instrument.Meter.Scope == meters) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => Record(values, i, v));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => Record(values, i, v));
        listener.Start();
        return listener;
    }

    private static void Record(ConcurrentDictionary<string, double> values, Instrument instrument, double value)
    {
        if (instrument is ObservableGauge<long> or ObservableGauge<double>) values[instrument.Name] = value;
        else values.AddOrUpdate(instrument.Name, value, (_, total) => total + value);
    }

    private static Dictionary<string, double> Read(MeterListener listener, ConcurrentDictionary<string, double> values)
    {
        listener.RecordObservableInstruments();
        return new Dictionary<string, double>(values);
    }
}
