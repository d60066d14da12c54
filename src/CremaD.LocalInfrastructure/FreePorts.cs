using System.Net;
using System.Net.Sockets;

namespace CremaD.LocalInfrastructure;

/// <summary>Picks TCP ports on the loopback interface that nothing listens on, for servers this project starts.</summary>
/// <remarks>
/// The ports come from below the operating system's ephemeral range (on Linux 32768–60999), not from it: a port
/// taken from the ephemeral range by binding port 0 is free only until the kernel hands it to any other socket —
/// an outgoing connection, or a server of another process that also bound port 0 — and a broker that then finds its
/// port taken fails to boot. That happened: a private RabbitMQ was given the port a test had chosen the same way for
/// the Aspire dashboard's OTLP endpoint, which the dashboard bound first. Ports named in this process's environment
/// (ASPNETCORE_URLS, the dashboard's endpoint URLs, connection strings) are never chosen, nor is a port this process
/// chose before.
/// </remarks>
public static partial class FreePorts
{
    /// <summary>The lowest port chosen.</summary>
    public const int RangeStart = 20000;

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// Returns <paramref name="count"/> distinct ports that were free a moment ago: each is bound on 127.0.0.1, all
    /// held at once, then released for the caller's server. Another process could still take one in between; servers
    /// started with these ports should fail loudly if so, and the caller may retry.
    /// </summary>
    public static IReadOnlyList<int> Allocate(int count) => Allocate(count, ConfiguredPorts(Environment.GetEnvironmentVariables()
        .Cast<System.Collections.DictionaryEntry>().Select(e => e.Value as string)));

    /// <inheritdoc cref="Allocate(int)"/>
    /// <param name="reserved">Ports not to choose (besides those already handed out by this process).</param>
    public static IReadOnlyList<int> Allocate(int count, IEnumerable<int> reserved)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var excluded = reserved.ToHashSet();
        var (low, high) = ServerRange();
        var listeners = new List<TcpListener>(count);
        try
        {
            lock (HandedOut)
            {
                var span = high - low + 1;
                var start = Random.Shared.Next(span);
                for (var i = 0; i < span && listeners.Count < count; i++)
                {
                    var port = low + (start + i) % span;
                    if (excluded.Contains(port) || HandedOut.Contains(port)) continue;
                    if (TryListen(port) is { } listener) listeners.Add(listener);
                }
                if (listeners.Count < count) throw new InvalidOperationException($"Fewer than {count} free loopback ports in {low}–{high}.");
                var ports = listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port).ToList();
                HandedOut.UnionWith(ports);
                return ports;
            }
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Stop();
            }
        }
    }

    /// <summary>Whether this process chose <paramref name="port"/> before (it will not be chosen again).</summary>
    public static bool HandedOutBefore(int port)
    {
        lock (HandedOut) return HandedOut.Contains(port);
    }

    /// <summary>
    /// The range ports are chosen from: <see cref="RangeStart"/> up to just below the ephemeral range (Linux:
    /// /proc/sys/net/ipv4/ip_local_port_range; elsewhere the IANA dynamic range, 49152 on).
    /// </summary>
    public static (int Low, int High) ServerRange()
    {
        var ephemeralLow = 49152;
        try
        {
            if (OperatingSystem.IsLinux() && File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])[' ', '\t', '\n'],
                    StringSplitOptions.RemoveEmptyEntries) is [var low, ..] && int.TryParse(low, out var parsed))
            {
                ephemeralLow = parsed;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        // A machine whose ephemeral range starts low leaves no room below it: then take the thousand ports above 10000.
        return ephemeralLow - 1 - RangeStart >= 1000 ? (RangeStart, ephemeralLow - 1) : (10000, 10999);
    }

    /// <summary>Every port in a URL or connection string among <paramref name="values"/> (e.g. "http://localhost:41019;…").</summary>
    public static IReadOnlySet<int> ConfiguredPorts(IEnumerable<string?> values)
    {
        var ports = new HashSet<int>();
        foreach (var value in values)
        {
            if (string.IsNullOrEmpty(value) || !value.Contains("://", StringComparison.Ordinal)) continue;
            foreach (System.Text.RegularExpressions.Match match in UrlPort().Matches(value))
            {
                if (int.TryParse(match.Groups[1].Value, out var port) && port is > 0 and < 65536) ports.Add(port);
            }
        }
        return ports;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"://[^/\s;,]*:(\d{1,5})(?!\d)")]
    private static partial System.Text.RegularExpressions.Regex UrlPort();

    private static TcpListener? TryListen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return listener;
        }
        catch (SocketException)
        {
            listener.Stop();
            return null;
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
