using CremaD.LocalInfrastructure;

namespace CremaD.Orchestration.Resources;

/// <summary>How a service runs: which program with which arguments, on which port, with what extra environment.</summary>
/// <param name="Executable">The program (<c>dotnet</c> for a service project).</param>
/// <param name="Arguments">Its arguments (the service's built entry assembly, <c>services/X/bin/&lt;Configuration&gt;/net10.0/X.dll</c>).</param>
/// <param name="RequiredFile">A file that must exist before starting (the assembly), so a missing build gets a clear message.</param>
/// <param name="WorkingDirectory">Where it runs (the assembly's folder).</param>
/// <param name="HttpPort">Port of its HTTP endpoint (/health, /alive, and the API of the runs API); kept across restarts.</param>
/// <param name="Environment">Everything the AppHost injects besides references (OTEL_*, ASPNETCORE_URLS, work folder).</param>
public sealed record ProjectLaunch(string Executable, IReadOnlyList<string> Arguments, string? RequiredFile, string WorkingDirectory, int HttpPort,
    IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>A built .NET service: <c>dotnet &lt;assembly&gt;</c> in the assembly's folder.</summary>
    public static ProjectLaunch ForAssembly(string assemblyPath, int httpPort, IReadOnlyDictionary<string, string> environment) =>
        new("dotnet", [assemblyPath], assemblyPath, Path.GetDirectoryName(assemblyPath)!, httpPort, environment);
}

/// <summary>The restart policy of a crashed service.</summary>
/// <param name="InitialDelay">Wait before the first restart; doubled for each consecutive crash.</param>
/// <param name="MaxDelay">Longest wait between restarts.</param>
/// <param name="StableAfter">A process that ran this long before crashing is restarted after <paramref name="InitialDelay"/> again.</param>
public sealed record RestartPolicy(TimeSpan InitialDelay, TimeSpan MaxDelay, TimeSpan StableAfter)
{
    public static RestartPolicy Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));

    /// <summary>Delay before restart number <paramref name="consecutiveCrashes"/> (1 for the first crash).</summary>
    public TimeSpan DelayFor(int consecutiveCrashes)
    {
        var factor = Math.Pow(2, Math.Clamp(consecutiveCrashes - 1, 0, 16));
        return TimeSpan.FromTicks((long)Math.Min(MaxDelay.Ticks, InitialDelay.Ticks * factor));
    }
}

/// <summary>
/// One of our service projects, run as its own process (<c>dotnet X.dll</c>) in its own process group, with the
/// environment an Aspire AppHost would give it plus the references of its dependencies. A process that exits while
/// the AppHost is not stopping it is restarted after a back-off (<see cref="RestartPolicy"/>); the dashboard shows
/// the restarts and the exit codes.
/// </summary>
public sealed class ProjectResource : Resource
{

    private readonly ProjectLaunch _launch;
    private readonly RestartPolicy _restartPolicy;
    private readonly IReadOnlyDictionary<string, string> _markerEnvironment;
    private readonly CancellationTokenSource _stopping = new();
    private SupervisedProcess? _process;
    private Task? _supervision;

    public ProjectResource(string name, string projectPath, ProjectLaunch launch, IReadOnlyList<Resource> dependsOn,
        IReadOnlyDictionary<string, string> markerEnvironment, RestartPolicy? restartPolicy = null)
        : base(name, ResourceKind.Project, projectPath, dependsOn)
    {
        _launch = launch;
        _markerEnvironment = markerEnvironment;
        _restartPolicy = restartPolicy ?? RestartPolicy.Default;
        HttpEndpoint = new Uri($"http://localhost:{launch.HttpPort}");
    }

    public Uri HttpEndpoint { get; }

    public override IReadOnlyList<string> Endpoints => [HttpEndpoint.ToString()];

    /// <summary>Aspire's service-discovery entry, so a client can use <c>http://&lt;name&gt;</c>.</summary>
    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        new Dictionary<string, string> { [$"services__{Name}__http__0"] = HttpEndpoint.ToString().TrimEnd('/') };

    /// <summary>The full environment the process gets: injected entries, then the references of its dependencies.</summary>
    public IReadOnlyDictionary<string, string?> BuildEnvironment()
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, value) in _launch.Environment) environment[key] = value;
        foreach (var dependency in DependsOn)
        {
            foreach (var (key, value) in dependency.ReferenceEnvironment) environment[key] = value;
        }
        foreach (var (key, value) in _markerEnvironment) environment[key] = value;
        return environment;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_launch.RequiredFile is { } required && !File.Exists(required))
        {
            throw new FileNotFoundException(
                $"{Name}: the service is not built ({required} is missing). `dotnet run --project CremaD.AppHost` builds it; " +
                "or run `dotnet build CremaD.sln`.", required);
        }
        Launch();
        _supervision = Task.Run(SuperviseAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) =>
        HealthEndpointProbe.IsHealthyAsync(HttpEndpoint, cancellationToken);

    /// <summary>Kills the running process outright (SIGKILL to its group), as a crash would; it is restarted per the policy.</summary>
    public bool Kill()
    {
        var process = _process;
        if (process is null || process.HasExited) return false;
        Logs.Append(LogStream.System, $"[apphost] {Name}: killing process {process.Id} (SIGKILL) on request");
        process.SignalGroup(ProcessGroup.SigKill);
        return true;
    }

    public override async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        var process = _process;
        if (process is not null && !process.HasExited)
        {
            SetState(ResourceState.Stopping);
            await process.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        if (_supervision is not null)
        {
            await _supervision.ConfigureAwait(false);
        }
        SetState(ResourceState.Stopped);
    }

    private void Launch()
    {
        SetState(ResourceState.Starting);
        var process = SupervisedProcess.Start(_launch.Executable, _launch.Arguments, BuildEnvironment(), _launch.WorkingDirectory,
            (stream, line) => Logs.Append(stream, line));
        _process = process;
        SetProcess(process.Id);
        SetState(ResourceState.Running);
        Logs.Append(LogStream.System, $"[apphost] {Name}: process {process.Id} started ({Path.GetFileName(_launch.Executable)} " +
                                      $"{string.Join(' ', _launch.Arguments.Select(Path.GetFileName))})");
    }

    private async Task SuperviseAsync()
    {
        var consecutiveCrashes = 0;
        while (true)
        {
            var process = _process!;
            var started = DateTimeOffset.UtcNow;
            var exitCode = await process.WaitForExitAsync().ConfigureAwait(false);
            RecordExit(exitCode);
            if (_stopping.IsCancellationRequested)
            {
                Logs.Append(LogStream.System, $"[apphost] {Name}: process exited with code {exitCode}");
                return;
            }
            // Whatever the program forked dies with it, so a restart never finds a half-alive old instance.
            process.SignalGroup(ProcessGroup.SigKill);
            process.Dispose();
            consecutiveCrashes = DateTimeOffset.UtcNow - started >= _restartPolicy.StableAfter ? 1 : consecutiveCrashes + 1;
            var delay = _restartPolicy.DelayFor(consecutiveCrashes);
            RecordRestartScheduled(DateTimeOffset.UtcNow + delay);
            SetState(ResourceState.Restarting, $"exited with code {exitCode}; restart in {delay.TotalSeconds:0.#} s");
            try
            {
                await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                SetState(ResourceState.Exited, $"exited with code {exitCode}");
                return;
            }
            try
            {
                Launch();
            }
            catch (Exception e)
            {
                SetState(ResourceState.FailedToStart, e.Message);
                return;
            }
        }
    }
}
