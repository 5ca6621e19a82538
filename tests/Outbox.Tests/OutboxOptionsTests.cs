// Options discipline: a typo'd key or an inconsistent pair stops the service at start, with the values in the message.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ReliableShop.Outbox.Tests;

public sealed class OutboxOptionsTests
{
    [Fact]
    public void Options_RetryMaxBelowBase_FailsWithBothValues()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(new() { ["Outbox:RetryBaseDelayMs"] = "500", ["Outbox:RetryMaxDelayMs"] = "100" }));

        Assert.Contains("Outbox:RetryMaxDelayMs (100) must be >= Outbox:RetryBaseDelayMs (500)", error.Message);
    }

    [Fact]
    public void Options_UnknownKey_Fails()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Resolve(new() { ["Outbox:BatchSzie"] = "10" }));

        Assert.Contains("BatchSzie", error.Message);
    }

    [Fact]
    public void Options_OutOfRangeBatchSize_Fails()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(new() { ["Outbox:BatchSize"] = "5000" }));

        Assert.Contains("BatchSize", error.Message);
    }

    [Fact]
    public void Options_Empty_CodeDefaults()
    {
        var options = Resolve([]);

        Assert.Equal((100, 30, 1000, 10, 200, 30_000, 5000, 24, 60), (options.BatchSize, options.LeaseSeconds, options.PollIntervalMs,
            options.MaxAttempts, options.RetryBaseDelayMs, options.RetryMaxDelayMs, options.PublishTimeoutMs, options.RetentionHours,
            options.CleanupIntervalSeconds));
    }

    private static OutboxOptions Resolve(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddSingleton(NpgsqlDataSource.Create("Host=unused"));
        services.AddOutbox(types => types.Add<OutboxTestMessage>());
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<OutboxOptions>>().Value;
    }
}
