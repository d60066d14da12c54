using System.Diagnostics;
using System.Net.Sockets;
using CremaD.LocalInfrastructure;

namespace CremaD.Orchestration.Resources;

/// <summary>Resource names the services expect (their connection-string names).</summary>
public static class InfrastructureNames
{
    public const string Messaging = "messaging";
    public const string Blobs = "blobs";
}

/// <summary>Probes a TCP endpoint: healthy when something accepts a connection.</summary>
internal static class TcpProbe
{
    public static async Task<bool> CanConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(host, port, limit.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>Copies the lines a server appends to its log file into a resource's console log.</summary>
internal sealed class FileTailer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FileTailer(string path, LogBuffer logs) => _loop = Task.Run(() => FollowAsync(path, logs, _stop.Token));

    private static async Task FollowAsync(string path, LogBuffer logs, CancellationToken cancellationToken)
    {
        try
        {
            while (!File.Exists(path)) await Task.Delay(250, cancellationToken).ConfigureAwait(false);
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            while (!cancellationToken.IsCancellationRequested)
            {
                var line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line is null) await Task.Delay(250, cancellationToken).ConfigureAwait(false);
                else logs.Append(LogStream.StdOut, line);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // Stopped, or the server's folder was removed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Infrastructure given in configuration (<c>ConnectionStrings:&lt;name&gt;</c>): nothing to start, only probed.</summary>
public sealed class ConnectionStringResource(string name, string connectionString, string displayEndpoint, string probeHost, int probePort)
    : Resource(name, ResourceKind.Infrastructure, "connection string from configuration")
{
    public override IReadOnlyList<string> Endpoints => [displayEndpoint];

    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        new Dictionary<string, string> { [$"ConnectionStrings__{Name}"] = connectionString };

    public string ConnectionString => connectionString;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Running, "given in configuration");
        return Task.CompletedTask;
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) =>
        TcpProbe.CanConnectAsync(probeHost, probePort, cancellationToken);

    public override Task StopAsync()
    {
        SetState(ResourceState.Stopped, "not ours to stop");
        return Task.CompletedTask;
    }
}

/// <summary>A private RabbitMQ broker from Debian's rabbitmq-server, on free loopback ports (see CremaD.LocalInfrastructure).</summary>
public sealed class LocalRabbitMqResource() : Resource(InfrastructureNames.Messaging, ResourceKind.Infrastructure,
    "rabbitmq-server (local binary)")
{
    private RabbitMqInstance? _instance;
    private FileTailer? _tailer;

    public string ConnectionString => _instance?.ConnectionString ?? throw new InvalidOperationException("The broker has not started.");

    public override IReadOnlyList<string> Endpoints => _instance is null ? [] : [$"amqp://127.0.0.1:{_instance.AmqpPort}"];

    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        new Dictionary<string, string> { [$"ConnectionStrings__{Name}"] = ConnectionString };

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Starting, "a private broker takes about 10 s to boot");
        _instance = await RabbitMqInstance.StartAsync(cancellationToken).ConfigureAwait(false);
        _tailer = new FileTailer(_instance.ConsoleLog, Logs);
        SetProcess(_instance.ServerProcessId);
        SetState(ResourceState.Running);
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) =>
        _instance is null ? Task.FromResult(false) : TcpProbe.CanConnectAsync("127.0.0.1", _instance.AmqpPort, cancellationToken);

    public override async Task StopAsync()
    {
        SetState(ResourceState.Stopping);
        if (_instance is not null) await _instance.DisposeAsync().ConfigureAwait(false);
        if (_tailer is not null) await _tailer.DisposeAsync().ConfigureAwait(false);
        SetState(ResourceState.Stopped);
    }
}

/// <summary>A private Azurite from the repository's npm dependency, on free loopback ports, data in its own folder.</summary>
public sealed class LocalAzuriteResource(string executablePath) : Resource(InfrastructureNames.Blobs, ResourceKind.Infrastructure,
    $"azurite (npm, {executablePath})")
{
    private AzuriteInstance? _instance;
    private FileTailer? _tailer;

    public string ConnectionString => _instance?.ConnectionString ?? throw new InvalidOperationException("Azurite has not started.");

    public override IReadOnlyList<string> Endpoints => _instance is null ? [] : [_instance.BlobEndpoint];

    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        new Dictionary<string, string> { [$"ConnectionStrings__{Name}"] = ConnectionString };

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Starting);
        _instance = await AzuriteInstance.StartAsync(new AzuriteOptions { ExecutablePath = executablePath, InMemoryPersistence = false },
            cancellationToken).ConfigureAwait(false);
        _tailer = new FileTailer(_instance.ConsoleLog, Logs);
        SetProcess(_instance.ServerProcessId);
        SetState(ResourceState.Running);
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) =>
        _instance is null ? Task.FromResult(false) : TcpProbe.CanConnectAsync("127.0.0.1", _instance.BlobPort, cancellationToken);

    public override async Task StopAsync()
    {
        SetState(ResourceState.Stopping);
        if (_instance is not null) await _instance.DisposeAsync().ConfigureAwait(false);
        if (_tailer is not null) await _tailer.DisposeAsync().ConfigureAwait(false);
        SetState(ResourceState.Stopped);
    }
}

/// <summary>What a container image needs to be run as infrastructure.</summary>
/// <param name="ContainerPort">The port inside the container the services talk to; published on a free loopback port.</param>
/// <param name="ConnectionStringFor">The connection string, given the published host port.</param>
/// <param name="EndpointFor">The endpoint shown in the dashboard, given the published host port.</param>
public sealed record ContainerImage(string Image, IReadOnlyList<string> Arguments, int ContainerPort,
    Func<int, string> ConnectionStringFor, Func<int, string> EndpointFor)
{
    /// <summary>RabbitMQ with its management plug-in, as Aspire's RabbitMQ resource runs it; the default guest account works from the host.</summary>
    public static ContainerImage RabbitMq { get; } = new("docker.io/library/rabbitmq:4-management", [], 5672,
        port => $"amqp://guest:guest@127.0.0.1:{port}", port => $"amqp://127.0.0.1:{port}");

    /// <summary>Azurite's blob service, as Aspire's storage emulator resource runs it.</summary>
    public static ContainerImage Azurite { get; } = new("mcr.microsoft.com/azure-storage/azurite",
        ["azurite-blob", "--blobHost", "0.0.0.0", "--skipApiVersionCheck", "--disableTelemetry"], 10000,
        port => $"DefaultEndpointsProtocol=http;AccountName={AzuriteInstance.AccountName};AccountKey={AzuriteInstance.AccountKey};" +
                $"BlobEndpoint=http://127.0.0.1:{port}/{AzuriteInstance.AccountName};",
        port => $"http://127.0.0.1:{port}/{AzuriteInstance.AccountName}");
}

/// <summary>
/// Infrastructure in a container (Docker or Podman, whichever is on PATH and answers): started detached with
/// <c>--rm</c>, its port published on a free loopback port, its log followed with <c>logs -f</c>, removed on stop.
/// Not exercised here: this environment has no container runtime (the AppHost then falls back to local binaries).
/// </summary>
public sealed class ContainerResource(string name, string runtime, ContainerImage image, string containerName)
    : Resource(name, ResourceKind.Infrastructure, $"{Path.GetFileName(runtime)}: {image.Image}")
{
    private int? _hostPort;
    private SupervisedProcess? _logs;

    public string ConnectionString =>
        _hostPort is { } port ? image.ConnectionStringFor(port) : throw new InvalidOperationException($"{Name} has not started.");

    public override IReadOnlyList<string> Endpoints => _hostPort is { } port ? [image.EndpointFor(port)] : [];

    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        new Dictionary<string, string> { [$"ConnectionStrings__{Name}"] = ConnectionString };

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Starting, $"{Path.GetFileName(runtime)} run {image.Image} (the first run pulls the image)");
        var hostPort = FreePorts.AllocateOne();
        List<string> arguments = ["run", "--rm", "--detach", "--name", containerName, "--publish", $"127.0.0.1:{hostPort}:{image.ContainerPort}", image.Image];
        arguments.AddRange(image.Arguments);
        var (exitCode, output) = await RunAsync(runtime, arguments, TimeSpan.FromMinutes(10), cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(runtime)} run {image.Image} failed with exit code {exitCode}: {output.Trim()}");
        }
        _hostPort = hostPort;
        _logs = SupervisedProcess.Start(runtime, ["logs", "--follow", containerName], new Dictionary<string, string?>(), Environment.CurrentDirectory,
            (stream, line) => Logs.Append(stream, line));
        SetState(ResourceState.Running, $"container {containerName}");
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) =>
        _hostPort is { } port ? TcpProbe.CanConnectAsync("127.0.0.1", port, cancellationToken) : Task.FromResult(false);

    public override async Task StopAsync()
    {
        SetState(ResourceState.Stopping);
        await RunAsync(runtime, ["rm", "--force", containerName], TimeSpan.FromSeconds(60), CancellationToken.None).ConfigureAwait(false);
        if (_logs is not null)
        {
            await _logs.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            _logs.Dispose();
        }
        SetState(ResourceState.Stopped);
    }

    /// <summary>Runs the container CLI to completion; returns its exit code and output (-1 on a timeout).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string executable, IEnumerable<string> arguments, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {executable}.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout.TotalSeconds:0} s");
        }
        return (process.ExitCode, await output.ConfigureAwait(false) + await error.ConfigureAwait(false));
    }
}

/// <summary>
/// Infrastructure of the embedded mode, which lives inside the AppHost process: MassTransit's in-memory transport
/// (messaging) or a local folder as the blob store (blobs). Shown so the dashboard tells the whole story.
/// </summary>
public sealed class EmbeddedInfrastructureResource(string name, string source, string endpoint, string? connectionString)
    : Resource(name, ResourceKind.Infrastructure, source)
{
    public override IReadOnlyList<string> Endpoints => [endpoint];

    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        connectionString is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [$"ConnectionStrings__{Name}"] = connectionString };

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Running, "inside the AppHost process");
        return Task.CompletedTask;
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) => Task.FromResult(true);

    public override Task StopAsync()
    {
        SetState(ResourceState.Stopped);
        return Task.CompletedTask;
    }
}
