using System.Diagnostics;

namespace CremaD.LocalInfrastructure;

/// <summary>Settings for <see cref="AzuriteInstance.StartAsync(AzuriteOptions, CancellationToken)"/>.</summary>
public sealed record AzuriteOptions
{
    /// <summary>The azurite launcher; default: <c>&lt;repository&gt;/node_modules/.bin/azurite</c> (installed by npm ci).</summary>
    public string? ExecutablePath { get; init; }

    /// <summary>Keep data in memory only (the default, for throwaway test instances) rather than in the instance's directory.</summary>
    public bool InMemoryPersistence { get; init; } = true;

    /// <summary>How long to wait for the blob endpoint to answer.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// A private Azurite (Azure Storage emulator, the repository's npm devDependency) on free loopback ports,
/// with telemetry off. Exposes the connection string an Aspire AppHost would give a service for its blobs.
/// <see cref="DisposeAsync"/> stops its process group and deletes its directory.
/// </summary>
public sealed class AzuriteInstance : InfrastructureInstance
{
    /// <summary>The emulator's well-known development account.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The emulator's well-known, public development key (not a secret).</summary>
    public const string AccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Installs Azurite from the repository's npm lock (run in the repository root); named in "not installed" messages.</summary>
    public const string InstallCommand = "npm ci";

    private readonly AzuriteOptions _options;
    private ProcessGroup? _server;

    private AzuriteInstance(AzuriteOptions options) : base("azurite")
    {
        _options = options;
        var ports = FreePorts.Allocate(3);
        (BlobPort, QueuePort, TablePort) = (ports[0], ports[1], ports[2]);
    }

    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;/devstoreaccount1</c> (an IPv4 address, not localhost, as Aspire uses).</summary>
    public string BlobEndpoint => $"http://127.0.0.1:{BlobPort}/{AccountName}";

    /// <summary>The Aspire-style connection string for the blob service.</summary>
    public string ConnectionString => ConnectionStringFor(BlobPort);

    /// <summary>The Aspire-style connection string of an emulator whose blob service listens on 127.0.0.1:<paramref name="blobPort"/>.</summary>
    public static string ConnectionStringFor(int blobPort) =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{blobPort}/{AccountName};";

    /// <summary>
    /// Azurite's command-line arguments for a private instance on loopback: telemetry off (it would report to an Internet
    /// host), no API-version check (Azure.Storage.Blobs 12.30 sends a newer version than Azurite 3.35 knows).
    /// </summary>
    /// <param name="location">Data folder; null keeps data in memory only.</param>
    public static List<string> Arguments(int blobPort, int queuePort, int tablePort, string? location) =>
    [
        "--silent", "--disableTelemetry", "--skipApiVersionCheck",
        "--blobHost", "127.0.0.1", "--blobPort", blobPort.ToString(),
        "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(),
        "--tableHost", "127.0.0.1", "--tablePort", tablePort.ToString(),
        .. location is null ? (string[])["--inMemoryPersistence"] : ["--location", location],
    ];

    /// <summary>Process id (and process group id) of the emulator, while it runs.</summary>
    public int? ServerProcessId => _server?.Id;

    /// <summary>The server's console output (standard output and error), appended while it runs.</summary>
    public string ConsoleLog => Path.Combine(Directory, "console.log");

    public static Task<AzuriteInstance> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(new AzuriteOptions(), cancellationToken);

    /// <summary>Starts the emulator and returns once its blob endpoint answers HTTP.</summary>
    /// <exception cref="InfrastructureNotInstalledException">node_modules/.bin/azurite is missing.</exception>
    public static async Task<AzuriteInstance> StartAsync(AzuriteOptions options, CancellationToken cancellationToken = default)
    {
        var executable = options.ExecutablePath ?? DefaultExecutablePath();
        if (!File.Exists(executable))
        {
            throw new InfrastructureNotInstalledException("Azurite", executable, $"{InstallCommand} (in the repository root)");
        }
        for (var attempt = 1; ; attempt++)
        {
            var instance = new AzuriteInstance(options);
            try
            {
                instance.Launch(executable);
                await instance.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                return instance;
            }
            catch (InfrastructureStartException e) when (e.ServerExited && attempt < 2)
            {
                // Most likely another process took one of the free ports before the server bound it:
                // once more, with fresh ports.
                await instance.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await instance.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>The repository's npm-installed launcher.</summary>
    public static string DefaultExecutablePath() =>
        Path.Combine(RepositoryRoot.Find(), "node_modules", ".bin", "azurite");

    protected override async Task StopAsync()
    {
        if (_server is null)
        {
            return;
        }
        // Node exits promptly on SIGTERM; give it a moment to close its sockets, then make sure.
        _server.Signal(ProcessGroup.SigTerm);
        if (!await _server.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false))
        {
            _server.Signal(ProcessGroup.SigKill);
            await _server.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        _server.Dispose();
        _server = null;
    }

    protected override string OrphanCleanupScript() =>
        (_server is null ? "" : $"kill -9 -- -{_server.Id} 2>/dev/null; ") + base.OrphanCleanupScript();

    private void Launch(string executable)
    {
        var arguments = Arguments(BlobPort, QueuePort, TablePort, _options.InMemoryPersistence ? null : Path.Combine(Directory, "data"));
        _server = ProcessGroup.Start(executable, arguments, BaseEnvironment(), Directory, ConsoleLog);
        StartWatchdog();
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        Exception? lastFailure = null;
        while (clock.Elapsed < _options.StartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_server!.HasExited)
            {
                throw new InfrastructureStartException(
                    $"Azurite exited with code {_server.ExitCode} while starting.{Diagnostics()}", serverExited: true);
            }
            try
            {
                // Any HTTP answer (an unauthenticated request gets 403) means the blob service is up.
                using var response = await http.GetAsync($"{BlobEndpoint}?comp=list", cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                lastFailure = e;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }
        throw new InfrastructureStartException(
            $"Azurite's blob endpoint {BlobEndpoint} did not answer within {_options.StartTimeout.TotalSeconds:0} s" +
            (lastFailure is null ? "." : $"; last attempt: {lastFailure.Message}.") + Diagnostics(),
            serverExited: false, lastFailure);
    }

    private string Diagnostics() =>
        $"{System.Environment.NewLine}--- {ConsoleLog} ---{System.Environment.NewLine}{ProcessGroup.ReadTail(ConsoleLog, 30)}";
}
