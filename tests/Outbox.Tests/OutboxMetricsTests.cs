// Backlog visibility: OutboxAdmin and the "ReliableShop.Outbox" gauges report pending count and oldest pending age.
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ReliableShop.TestServers;

namespace ReliableShop.Outbox.Tests;

public sealed class OutboxMetricsTests
{
    private const string Backlog = """
        INSERT INTO outbox_messages (id, message_type, payload, status, created_at)
        SELECT gen_random_uuid(), 'T', '{}', s, now() - interval '10 seconds'
        FROM unnest(ARRAY['pending', 'pending', 'pending', 'dead', 'published']) AS s
        """;

    [Fact]
    public async Task Admin_BacklogAndDead_StatsCountThemAndOldestAge()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        await db.ExecuteAsync(Backlog);

        var stats = await new OutboxAdmin(db.DataSource).GetStatsAsync(TestContext.Current.CancellationToken);

        Assert.Equal((3L, 1L), (stats.Pending, stats.Dead));
        Assert.InRange(stats.OldestPendingAgeSeconds, 10, 60);
    }

    [Fact]
    public async Task Gauges_Backlog_ReportPendingCountAndOldestAge()
    {
        await using var db = await OutboxDatabase.CreateAsync();
        await db.ExecuteAsync(Backlog);
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton(db.DataSource);
        services.AddLogging();
        services.AddOutbox(types => types.Add<OutboxTestMessage>());
        await using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<OutboxMetrics>(); // creates the instruments
        var factory = provider.GetRequiredService<IMeterFactory>();
        var observed = new Dictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Meter.Name == OutboxExtensions.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, value, _, _) => observed[i.Name] = value);
        listener.SetMeasurementEventCallback<double>((i, value, _, _) => observed[i.Name] = value);
        listener.Start();

        await Eventually.WaitAsync(() =>
        {
            listener.RecordObservableInstruments(); // the first read starts the refresh; later reads see its result
            return Task.FromResult(observed.GetValueOrDefault("reliableshop.outbox.backlog"));
        }, backlog => backlog == 3, TimeSpan.FromSeconds(10), "backlog gauge");

        Assert.Equal(1, observed["reliableshop.outbox.dead"]);
        Assert.InRange(observed["reliableshop.outbox.oldest_pending_age"], 10, 60);
    }
}
