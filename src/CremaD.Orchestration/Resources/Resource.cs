namespace CremaD.Orchestration.Resources;

/// <summary>
/// One thing the AppHost runs or connects to. The orchestrator starts it once every resource it depends on is
/// healthy (Aspire's WaitFor), probes its health, and stops it in reverse order. Subclasses say how to start, probe
/// and stop; this class keeps the state the dashboard shows and the console log.
/// </summary>
public abstract class Resource(string name, ResourceKind kind, string source, IReadOnlyList<Resource>? dependsOn = null)
{
    private readonly object _gate = new();
    private ResourceState _state = ResourceState.Waiting;
    private ResourceHealth _health = ResourceHealth.Unknown;
    private int? _processId;
    private int _restarts;
    private int? _lastExitCode;
    private DateTimeOffset? _startedAt;
    private DateTimeOffset? _nextRestartAt;
    private string? _detail;

    /// <summary>The Aspire resource name: <c>ConnectionStrings__&lt;name&gt;</c>, <c>OTEL_SERVICE_NAME</c>, <c>services__&lt;name&gt;__http__0</c>.</summary>
    public string Name { get; } = name;

    public ResourceKind Kind { get; } = kind;

    /// <summary>Where it comes from, for display (project path, executable, image, "configuration").</summary>
    public string Source { get; } = source;

    public IReadOnlyList<Resource> DependsOn { get; } = dependsOn ?? [];

    public LogBuffer Logs { get; } = new();

    public ResourceState State
    {
        get { lock (_gate) return _state; }
    }

    public ResourceHealth Health
    {
        get { lock (_gate) return _health; }
    }

    public int Restarts
    {
        get { lock (_gate) return _restarts; }
    }

    public int? ProcessId
    {
        get { lock (_gate) return _processId; }
    }

    /// <summary>True when it runs and its last health probe passed: what dependents wait for.</summary>
    public bool IsReady
    {
        get { lock (_gate) return _state == ResourceState.Running && _health == ResourceHealth.Healthy; }
    }

    /// <summary>URLs it serves, without credentials, for display.</summary>
    public abstract IReadOnlyList<string> Endpoints { get; }

    /// <summary>Environment entries a resource that references this one gets (a connection string, a service URL).</summary>
    public abstract IReadOnlyDictionary<string, string> ReferenceEnvironment { get; }

    /// <summary>Starts it; returns once it is launched (health is probed separately).</summary>
    public abstract Task StartAsync(CancellationToken cancellationToken);

    /// <summary>One health probe: true when it answers as healthy.</summary>
    public abstract Task<bool> ProbeHealthAsync(CancellationToken cancellationToken);

    /// <summary>Stops it and whatever it started; must not throw.</summary>
    public abstract Task StopAsync();

    public ResourceSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new ResourceSnapshot(Name, Kind, Source, _state, _health, Endpoints, DependsOn.Select(d => d.Name).ToList(),
                _processId, _restarts, _lastExitCode, _startedAt, _nextRestartAt, _detail);
        }
    }

    /// <summary>Moves to <paramref name="state"/>, noting the change in the console log.</summary>
    protected internal void SetState(ResourceState state, string? detail = null)
    {
        bool changed;
        lock (_gate)
        {
            changed = _state != state || _detail != detail;
            _state = state;
            _detail = detail;
            if (state == ResourceState.Running) _startedAt ??= DateTimeOffset.UtcNow;
            if (state != ResourceState.Restarting) _nextRestartAt = null;
            if (state is not (ResourceState.Running or ResourceState.Starting)) _health = ResourceHealth.Unknown;
        }
        if (changed)
        {
            Logs.Append(LogStream.System, detail is null ? $"[apphost] {Name}: {Describe(state)}" : $"[apphost] {Name}: {Describe(state)} ({detail})");
        }
    }

    protected internal void SetHealth(ResourceHealth health)
    {
        ResourceHealth previous;
        lock (_gate)
        {
            previous = _health;
            if (_state is ResourceState.Running or ResourceState.Starting) _health = health;
        }
        if (previous != health && health != ResourceHealth.Unknown)
        {
            Logs.Append(LogStream.System, $"[apphost] {Name}: {health.ToString().ToLowerInvariant()}");
        }
    }

    protected void SetProcess(int? processId)
    {
        lock (_gate)
        {
            _processId = processId;
            _startedAt = processId is null ? _startedAt : DateTimeOffset.UtcNow;
        }
    }

    protected void RecordExit(int exitCode)
    {
        lock (_gate)
        {
            _lastExitCode = exitCode;
            _processId = null;
        }
    }

    protected void RecordRestartScheduled(DateTimeOffset at)
    {
        lock (_gate)
        {
            _restarts++;
            _nextRestartAt = at;
        }
    }

    private static string Describe(ResourceState state) => state switch
    {
        ResourceState.Waiting => "waiting",
        ResourceState.Starting => "starting",
        ResourceState.Running => "running",
        ResourceState.Restarting => "restarting",
        ResourceState.Exited => "exited",
        ResourceState.FailedToStart => "failed to start",
        ResourceState.Stopping => "stopping",
        ResourceState.Stopped => "stopped",
        _ => state.ToString(),
    };
}
