// A MeterListener for one host's instruments only: several hosts run in one test process, each with its own
// IMeterFactory, so listening by meter name alone would mix their numbers.
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace ReliableShop.TestServers;

public static class HostMeters
{
    public static MeterListener ListenToHost(this IServiceProvider services, Action<MeterListener> configure)
    {
        var scope = services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == scope) l.EnableMeasurementEvents(instrument);
            },
        };
        configure(listener);
        listener.Start();
        return listener;
    }
}
