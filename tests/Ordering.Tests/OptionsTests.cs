// Options discipline: a misspelled key or an out-of-range value stops the service at start, naming the key —
// instead of silently running with a default limit.
namespace ReliableShop.Ordering.Tests;

public sealed class OptionsTests
{
    [Theory]
    [InlineData("Admission:PermitLimt", "5", "PermitLimt")]
    [InlineData("Admission:PermitLimit", "0", "PermitLimit")]
    [InlineData("Orders:MaxLines", "101", "MaxLines")]
    [InlineData("Orders:PaymentRetryWindow", "00:01:00", "PaymentRetryWindow")]
    [InlineData("Resilience:Payment:SamplingDuration", "00:00:04", "Resilience:Payment:SamplingDuration")]
    public async Task Startup_BadOption_FailsNamingTheKey(string key, string value, string named)
    {
        await using var app = await OrderingApp.CreateAsync(new Dictionary<string, string> { [key] = value });

        var failure = Assert.ThrowsAny<Exception>(() => app.Start());

        // The cause is in the exception, or — when WebApplicationFactory loses a disposal race — in the host's log.
        Assert.Contains(named, failure + string.Join('\n', app.Log.Errors), StringComparison.Ordinal);
    }
}
