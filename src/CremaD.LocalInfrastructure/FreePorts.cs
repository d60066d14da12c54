using System.Net;
using System.Net.Sockets;

namespace CremaD.LocalInfrastructure;

/// <summary>Picks TCP ports on the loopback interface that nothing listens on.</summary>
public static class FreePorts
{
    /// <summary>
    /// Returns <paramref name="count"/> distinct ports that were free a moment ago: the operating system
    /// assigns each to a socket bound to 127.0.0.1:0, all held at once so they differ, then released for the
    /// caller's server. Another process could take one in between; servers started with these ports should
    /// fail loudly if so, and the caller may retry.
    /// </summary>
    public static IReadOnlyList<int> Allocate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var listeners = new List<TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port).ToList();
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Stop();
            }
        }
    }

    /// <summary>One free loopback port.</summary>
    public static int AllocateOne() => Allocate(1)[0];

    /// <summary>True when a TCP connection to 127.0.0.1:<paramref name="port"/> is accepted.</summary>
    public static async Task<bool> IsListeningAsync(int port, CancellationToken cancellationToken = default)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
