// Keeps the errors the host logs. A host whose start fails logs the cause ("Hosting failed to start") before it
// rethrows; the exception that then reaches the test can be a disposal race inside WebApplicationFactory instead.
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ReliableShop.Ordering.Tests;

public sealed class CapturedLog : ILoggerProvider
{
    public ConcurrentQueue<string> Errors { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose() { }

    private sealed class Logger(CapturedLog log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) log.Errors.Enqueue($"{formatter(state, exception)} {exception}");
        }
    }
}
