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
    private readonly string _executable;

    private AzuriteInstance(AzuriteOptions options, string executable) : base("azurite")
    {
        _options = options;
        _executable = executable;
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
        return await StartAsync(() => new AzuriteInstance(options, executable), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The repository's npm-installed launcher.</summary>
    public static string DefaultExecutablePath() =>
        Path.Combine(RepositoryRoot.Find(), "node_modules", ".bin", "azurite");

    protected override async Task StopAsync()
    {
        if (Server is null)
        {
            return;
        }
        // Node exits promptly on SIGTERM; give it a moment to close its sockets, then make sure.
        Server.Signal(ProcessGroup.SigTerm);
        if (!await Server.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false))
        {
            Server.Signal(ProcessGroup.SigKill);
            await Server.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        Server.Dispose();
        Server = null;
    }

    protected override string DisplayName => "Azurite";

    protected override TimeSpan StartTimeout => _options.StartTimeout;

    protected override string ReadinessDescription => $"its blob endpoint {BlobEndpoint} to answer HTTP";

    protected override void Launch()
    {
        var arguments = Arguments(BlobPort, QueuePort, TablePort, _options.InMemoryPersistence ? null : Path.Combine(Directory, "data"));
        Server = ProcessGroup.Start(_executable, arguments, BaseEnvironment(), Directory, ConsoleLog);
    }

    protected override async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        // Any HTTP answer (an unauthenticated request gets 403) means the blob service is up.
        using var response = await ReadinessClient.GetAsync($"{BlobEndpoint}?comp=list", cancellationToken).ConfigureAwait(false);
        return true;
    }

    private static readonly HttpClient ReadinessClient = new() { Timeout = TimeSpan.FromSeconds(5) };
}
