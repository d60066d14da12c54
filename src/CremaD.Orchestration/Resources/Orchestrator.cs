namespace CremaD.Orchestration.Resources;

/// <summary>
/// Starts resources in dependency order — a resource starts only once everything it depends on runs and passes its
/// health probe (Aspire's WaitFor, polled every second) — keeps probing their health, and stops them in reverse
/// order. It is also what the dashboard reads (<see cref="IResourceCatalog"/>).
/// </summary>
public sealed class Orchestrator(IReadOnlyList<Resource> resources) : IResourceCatalog, IAsyncDisposable
{
    private static readonly TimeSpan ProbeWhileUnhealthy = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProbeWhileHealthy = TimeSpan.FromSeconds(5);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private int _stopped;

    public IReadOnlyList<Resource> Resources { get; } = resources;

    public Resource this[string name] => Resources.First(r => r.Name == name);

    /// <summary>Launches every resource's start-and-probe loop; returns at once.</summary>
    public void Start()
    {
        foreach (var resource in Resources)
        {
            _loops.Add(Task.Run(() => RunAsync(resource, _stop.Token)));
        }
    }

    /// <summary>Waits until <paramref name="resource"/> is running and healthy; throws when it failed to start.</summary>
    public static async Task WaitUntilReadyAsync(Resource resource, CancellationToken cancellationToken)
    {
        while (!resource.IsReady)
        {
            if (resource.State == ResourceState.FailedToStart)
            {
                throw new InvalidOperationException($"{resource.Name} failed to start: {resource.Snapshot().Detail}");
            }
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    public IReadOnlyList<ResourceSnapshot> Snapshot() => Resources.Select(r => r.Snapshot()).ToList();

    public IReadOnlyList<LogLine>? GetLogs(string name, long afterSequence, int max) =>
        Resources.FirstOrDefault(r => r.Name == name)?.Logs.After(afterSequence, max);

    /// <summary>Stops everything: dependents before what they depend on; each resource stops its own processes.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        var remaining = Resources.ToList();
        while (remaining.Count > 0)
        {
            // Those nothing remaining depends on can stop now, together.
            var layer = remaining.Where(r => !remaining.Any(other => other.DependsOn.Contains(r))).ToList();
            if (layer.Count == 0) layer = remaining.ToList(); // a cycle cannot be built, but never hang on one
            await Task.WhenAll(layer.Select(StopQuietlyAsync)).ConfigureAwait(false);
            remaining.RemoveAll(layer.Contains);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private static async Task StopQuietlyAsync(Resource resource)
    {
        if (resource.State is ResourceState.Waiting or ResourceState.FailedToStart)
        {
            resource.SetState(ResourceState.Stopped, resource.State == ResourceState.Waiting ? "never started" : resource.Snapshot().Detail);
            return;
        }
        try
        {
            await resource.StopAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            resource.Logs.Append(LogStream.System, $"[apphost] {resource.Name}: stop failed: {e.Message}");
        }
    }

    private static async Task RunAsync(Resource resource, CancellationToken cancellationToken)
    {
        try
        {
            foreach (var dependency in resource.DependsOn)
            {
                while (!dependency.IsReady)
                {
                    if (dependency.State is ResourceState.FailedToStart or ResourceState.Stopped)
                    {
                        resource.SetState(ResourceState.Waiting, $"{dependency.Name} failed to start; not starting");
                        return;
                    }
                    resource.SetState(ResourceState.Waiting, $"waiting for {dependency.Name}");
                    await Task.Delay(ProbeWhileUnhealthy, cancellationToken).ConfigureAwait(false);
                }
            }
            try
            {
                await resource.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                resource.SetState(ResourceState.FailedToStart, e.Message);
                return;
            }
            while (!cancellationToken.IsCancellationRequested)
            {
                var state = resource.State;
                if (state is ResourceState.Running)
                {
                    var healthy = await resource.ProbeHealthAsync(cancellationToken).ConfigureAwait(false);
                    resource.SetHealth(healthy ? ResourceHealth.Healthy : ResourceHealth.Unhealthy);
                    await Task.Delay(healthy ? ProbeWhileHealthy : ProbeWhileUnhealthy, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Task.Delay(ProbeWhileUnhealthy, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The AppHost is stopping.
        }
    }
}
