// Log lines of one test host, in memory: tests wait on what the relay reports (e.g. "batch failed") instead of sleeping.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ReliableShop.Outbox.Tests;

internal sealed class TestLog : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public int Count(string fragment) => Lines.Count(line => line.Contains(fragment, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(TestLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception?.Message}");
    }
}
