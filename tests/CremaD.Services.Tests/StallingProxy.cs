using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace CremaD.Services.Tests;

/// <summary>
/// A TCP proxy in front of Azurite's blob port for one service process: it forwards everything until a request line
/// (<c>GET /devstoreaccount1/container/key HTTP/1.1</c>) satisfies the stall rule, then stops forwarding that request
/// (the connection hangs, as with a network partition or a slow disk) and reports it. A process test uses it to pin a
/// service at an exact point of its work — reading a clip of a shard, or right after a checkpoint was stored — before
/// killing it, instead of racing a kill against work that takes milliseconds; or, <see cref="Release"/>d, only holding it
/// there while something else breaks.
/// </summary>
internal sealed partial class StallingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly Func<string, bool> _stall;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accepting;

    /// <param name="targetPort">Azurite's blob port on 127.0.0.1.</param>
    /// <param name="stall">Called with each request line (method, path and query, version), in the order they are sent; true stalls it.</param>
    public StallingProxy(int targetPort, Func<string, bool> stall)
    {
        _targetPort = targetPort;
        _stall = stall;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes with the first request line that was stalled.</summary>
    public Task<string> Stalled => _stalled.Task;

    /// <summary>
    /// Lets the stalled requests through (they are forwarded as if late) and stops stalling: from now on the proxy only
    /// forwards. For a drill that pins a service mid-work, breaks something else, and then lets the service go on.
    /// </summary>
    public void Release() => _released.TrySetResult();

    /// <summary><paramref name="azuriteConnectionString"/> with its blob endpoint moved to this proxy.</summary>
    public string ConnectionString(string azuriteConnectionString) =>
        azuriteConnectionString.Replace($"127.0.0.1:{_targetPort}/", $"127.0.0.1:{Port}/", StringComparison.Ordinal);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_connections)
        {
            foreach (var connection in _connections) connection.Dispose();
        }
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        var server = new TcpClient();
        lock (_connections)
        {
            _connections.Add(client);
            _connections.Add(server);
        }
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            var upstream = ForwardRequestsAsync(client.GetStream(), server.GetStream());
            var downstream = server.GetStream().CopyToAsync(client.GetStream(), _stop.Token);
            await Task.WhenAny(upstream, downstream);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The process was killed or the proxy stopped.
        }
        finally
        {
            // Reached when either side closed; a stalled request keeps its connection open (and hanging) until then.
            client.Dispose();
            server.Dispose();
        }
    }

    /// <summary>Copies client → server, looking at each request line first; stops for good at a stalled one.</summary>
    private async Task ForwardRequestsAsync(Stream client, Stream server)
    {
        var buffer = new byte[64 * 1024];
        var carried = "";
        while (true)
        {
            var read = await client.ReadAsync(buffer, _stop.Token);
            if (read == 0) return;
            // Latin-1 maps bytes to chars one to one, so the ASCII request lines are found between binary bodies; a line
            // split across two reads is found with the tail carried over from the previous one.
            var text = carried + Encoding.Latin1.GetString(buffer, 0, read);
            foreach (Match match in RequestLine().Matches(text))
            {
                if (match.Index + match.Length <= carried.Length) continue; // seen in the previous read
                if (!_released.Task.IsCompleted && _stall(match.Value.TrimEnd()))
                {
                    _stalled.TrySetResult(match.Value.TrimEnd());
                    await _released.Task.WaitAsync(_stop.Token);
                }
            }
            carried = text.Length > 4096 ? text[^4096..] : text;
            await server.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    [GeneratedRegex(@"(GET|HEAD|PUT|POST|DELETE) /[^ \r\n]+ HTTP/1\.1\r\n")]
    private static partial Regex RequestLine();
}
