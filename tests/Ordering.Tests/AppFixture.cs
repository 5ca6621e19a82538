// One started app (own database) shared by the tests of one class; each class that needs isolation derives its own.
namespace ReliableShop.Ordering.Tests;

public abstract class AppFixture : IAsyncLifetime
{
    public OrderingApp App { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    /// <summary>Settings over appsettings.json for every test of the class.</summary>
    protected virtual Dictionary<string, string>? Settings => null;

    public async ValueTask InitializeAsync()
    {
        App = await OrderingApp.CreateAsync(Settings);
        Client = App.Start();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
