namespace CremaD.Orchestration.Resources;

/// <summary>What a resource is, for display and for how it is started.</summary>
public enum ResourceKind
{
    /// <summary>A broker or storage emulator (RabbitMQ, Azurite), or one given by a connection string.</summary>
    Infrastructure,

    /// <summary>One of our service projects, run as its own process.</summary>
    Project,

    /// <summary>Services hosted inside the AppHost process (embedded mode).</summary>
    InProcess,
}

/// <summary>The life-cycle states a resource moves through (the dashboard shows these words).</summary>
public enum ResourceState
{
    /// <summary>Not started yet: waiting for its dependencies to be healthy.</summary>
    Waiting,
    Starting,
    Running,

    /// <summary>Exited unexpectedly; a restart is scheduled after a back-off.</summary>
    Restarting,

    /// <summary>Exited and will not be restarted (stopped on purpose, or gave up).</summary>
    Exited,
    FailedToStart,
    Stopping,
    Stopped,
}

/// <summary>Health as the last probe found it.</summary>
public enum ResourceHealth
{
    Unknown,
    Healthy,
    Unhealthy,
}

/// <summary>A resource as the dashboard shows it at one moment.</summary>
/// <param name="Name">Resource name, as in <c>ConnectionStrings__&lt;name&gt;</c>, <c>OTEL_SERVICE_NAME</c> and <c>services__&lt;name&gt;__http__0</c>.</param>
/// <param name="Source">Where it comes from: a project path, an executable, a container image, or "connection string".</param>
/// <param name="Endpoints">URLs (http://…, amqp://…) it serves, without credentials.</param>
/// <param name="ProcessId">Process id while it runs as a process of ours.</param>
/// <param name="Restarts">How often the AppHost restarted it after it crashed.</param>
/// <param name="LastExitCode">Exit code of the last exit, if it ever exited.</param>
/// <param name="NextRestartAt">When a scheduled restart happens (state <see cref="ResourceState.Restarting"/>).</param>
/// <param name="Detail">A short explanation (why it is waiting, why it failed).</param>
public sealed record ResourceSnapshot(
    string Name,
    ResourceKind Kind,
    string Source,
    ResourceState State,
    ResourceHealth Health,
    IReadOnlyList<string> Endpoints,
    IReadOnlyList<string> DependsOn,
    int? ProcessId,
    int Restarts,
    int? LastExitCode,
    DateTimeOffset? StartedAt,
    DateTimeOffset? NextRestartAt,
    string? Detail);

/// <summary>Which stream a console line came from.</summary>
public enum LogStream
{
    StdOut,
    StdErr,

    /// <summary>A line the AppHost itself wrote about the resource (started, exited with code 3, restarting in 2 s).</summary>
    System,
}

/// <summary>One line of a resource's console output.</summary>
/// <param name="Sequence">Increasing per resource from 1; ask for lines after the last one seen to follow the log live.</param>
public sealed record LogLine(long Sequence, DateTimeOffset Time, LogStream Stream, string Text);

/// <summary>What the dashboard reads about resources.</summary>
public interface IResourceCatalog
{
    /// <summary>Every resource, in start order.</summary>
    IReadOnlyList<ResourceSnapshot> Snapshot();

    /// <summary>
    /// Up to <paramref name="max"/> console lines of <paramref name="name"/> with a sequence above
    /// <paramref name="afterSequence"/>, oldest first; null when there is no such resource.
    /// </summary>
    IReadOnlyList<LogLine>? GetLogs(string name, long afterSequence, int max);
}
