using System.Net;
using System.Net.Sockets;
using CremaD.LocalInfrastructure;

namespace CremaD.Storage.Tests;

public sealed class FreePortsTests
{
    [Fact]
    public void Ports_come_from_below_the_ephemeral_range_are_distinct_and_never_handed_out_twice()
    {
        var (low, high) = FreePorts.ServerRange();
        if (OperatingSystem.IsLinux())
        {
            var ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])[' ', '\t', '\n'],
                StringSplitOptions.RemoveEmptyEntries)[0]);
            Assert.True(high < ephemeralLow || low == 10000, $"{low}–{high} overlaps the ephemeral range from {ephemeralLow}");
        }

        var first = FreePorts.Allocate(20);
        var second = FreePorts.Allocate(20);
        Assert.Equal(20, first.Distinct().Count());
        Assert.Empty(first.Intersect(second));
        Assert.All(first.Concat(second), port => Assert.InRange(port, low, high));
    }

    [Fact]
    public void A_port_something_listens_on_a_reserved_port_and_a_port_handed_out_before_are_not_chosen()
    {
        var (low, high) = FreePorts.ServerRange();
        // Two ports of the range that nothing holds and this process has not handed out, from the top down.
        var candidates = Enumerable.Range(low, high - low + 1).Reverse().Where(p => !FreePorts.HandedOutBefore(p) && CanListen(p)).Take(3).ToArray();
        using var occupied = new TcpListener(IPAddress.Loopback, candidates[0]);
        occupied.Start();
        var reserved = Enumerable.Range(low, high - low + 1).Where(p => p != candidates[0] && p != candidates[1] && p != candidates[2]).ToList();

        // Left: candidates[0] (listened on) and [1], [2] (free). Reserving [2] as well leaves [1] alone.
        Assert.Equal([candidates[1]], FreePorts.Allocate(1, [.. reserved, candidates[2]]));
        // [1] is handed out now, [0] still listened on: only [2] is left, then nothing.
        Assert.Equal([candidates[2]], FreePorts.Allocate(1, reserved));
        var error = Assert.Throws<InvalidOperationException>(() => FreePorts.Allocate(1, reserved));
        Assert.Contains("free loopback ports", error.Message, StringComparison.Ordinal);
    }

    private static bool CanListen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public void Ports_in_the_environment_s_urls_and_connection_strings_are_reserved()
    {
        var ports = FreePorts.ConfiguredPorts([
            "http://localhost:41019;https://localhost:41020",
            "amqp://guest:secret@127.0.0.1:25672/",
            "DefaultEndpointsProtocol=http;BlobEndpoint=http://127.0.0.1:23001/devstoreaccount1;",
            "no url here: 1234",
            null,
        ]);
        Assert.Equal(new HashSet<int> { 41019, 41020, 25672, 23001 }, ports);
    }
}
