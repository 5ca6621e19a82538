// A loopback TCP forwarder in front of the shared Redis: cutting it is a real outage for one host (connections
// drop, new ones are refused) without stopping the server other tests use.
using System.Net;
using System.Net.Sockets;

namespace ReliableShop.Inventory.Tests;

public sealed class TcpProxy(string targetHost, int targetPort) : IAsyncDisposable
{
    private readonly List<TcpClient> connections = [];
    private TcpListener? listener;
    private CancellationTokenSource? stop;

    public int Port { get; private set; }

    public static TcpProxy For(string hostAndPort)
    {
        var parts = hostAndPort.Split(',')[0].Split(':');
        return new TcpProxy(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Start()
    {
        listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        stop = new CancellationTokenSource();
        _ = AcceptLoopAsync(listener, stop.Token);
    }

    public async Task CutAsync()
    {
        await stop!.CancelAsync();
        listener!.Stop();
        lock (connections)
        {
            connections.ForEach(c => c.Dispose());
            connections.Clear();
        }
    }

    public async ValueTask DisposeAsync() => await CutAsync();

    private async Task AcceptLoopAsync(TcpListener server, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await server.AcceptTcpClientAsync(ct); }
            catch (Exception) { return; }
            var upstream = new TcpClient();
            try { await upstream.ConnectAsync(targetHost, targetPort, ct); }
            catch (Exception) { client.Dispose(); upstream.Dispose(); continue; }
            lock (connections) { connections.Add(client); connections.Add(upstream); }
            _ = PumpAsync(client.GetStream(), upstream.GetStream(), ct);
            _ = PumpAsync(upstream.GetStream(), client.GetStream(), ct);
        }
    }

    private static async Task PumpAsync(Stream from, Stream to, CancellationToken ct)
    {
        try { await from.CopyToAsync(to, ct); }
        catch (Exception) { /* the other side went away or the proxy was cut */ }
        finally { from.Dispose(); to.Dispose(); }
    }
}
