using CremaD.Orchestration.Resources;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>
/// An in-memory <see cref="IResourceCatalog"/> with the semantics the supervisor promises (start order, log sequences
/// from 1, <c>after</c> paging), so the dashboard is tested against the contract rather than against a live process tree.
/// </summary>
internal sealed class TestResourceCatalog : IResourceCatalog
{
    private readonly Lock _gate = new();
    private readonly List<ResourceSnapshot> _resources = [];
    private readonly Dictionary<string, List<LogLine>> _logs = new(StringComparer.Ordinal);

    public void Set(ResourceSnapshot resource)
    {
        lock (_gate)
        {
            var index = _resources.FindIndex(r => r.Name == resource.Name);
            if (index >= 0) _resources[index] = resource;
            else _resources.Add(resource);
            _logs.TryAdd(resource.Name, []);
        }
    }

    public void Log(string name, LogStream stream, string text)
    {
        lock (_gate)
        {
            var lines = _logs[name];
            lines.Add(new LogLine(lines.Count + 1, DateTimeOffset.UtcNow, stream, text));
        }
    }

    public IReadOnlyList<ResourceSnapshot> Snapshot()
    {
        lock (_gate)
        {
            return [.. _resources];
        }
    }

    public IReadOnlyList<LogLine>? GetLogs(string name, long afterSequence, int max)
    {
        lock (_gate)
        {
            return _logs.TryGetValue(name, out var lines) ? [.. lines.Where(l => l.Sequence > afterSequence).Take(max)] : null;
        }
    }

    /// <summary>The AppHost's resources as they look a while after a demo run: infrastructure, four services, one restart.</summary>
    public static TestResourceCatalog Demo()
    {
        var catalog = new TestResourceCatalog();
        var started = DateTimeOffset.UtcNow.AddMinutes(-4);
        catalog.Set(new ResourceSnapshot("messaging", ResourceKind.Infrastructure, "rabbitmq-server", ResourceState.Running, ResourceHealth.Healthy,
            ["amqp://localhost:35672", "http://localhost:35673"], [], 41001, 0, null, started, null, null));
        catalog.Set(new ResourceSnapshot("blobs", ResourceKind.Infrastructure, "azurite@3.35.0", ResourceState.Running, ResourceHealth.Healthy,
            ["http://127.0.0.1:41000/devstoreaccount1"], [], 41002, 0, null, started, null, null));
        catalog.Set(new ResourceSnapshot("runs-api", ResourceKind.Project, "services/CremaD.RunsApi/CremaD.RunsApi.csproj", ResourceState.Running,
            ResourceHealth.Healthy, ["http://localhost:5180"], ["messaging", "blobs"], 41010, 0, null, started.AddSeconds(6), null, null));
        catalog.Set(new ResourceSnapshot("feature-service", ResourceKind.Project, "services/CremaD.FeatureService/CremaD.FeatureService.csproj",
            ResourceState.Running, ResourceHealth.Healthy, ["http://localhost:5181"], ["messaging", "blobs"], 41011, 0, null, started.AddSeconds(6), null, null));
        catalog.Set(new ResourceSnapshot("trainer-service", ResourceKind.Project, "services/CremaD.TrainerService/CremaD.TrainerService.csproj",
            ResourceState.Running, ResourceHealth.Healthy, ["http://localhost:5182"], ["messaging", "blobs"], 41107, 1, 137, started.AddSeconds(48), null,
            "Restarted after exit code 137."));
        catalog.Set(new ResourceSnapshot("evaluation-service", ResourceKind.Project, "services/CremaD.EvaluationService/CremaD.EvaluationService.csproj",
            ResourceState.Restarting, ResourceHealth.Unhealthy, [], ["messaging", "blobs"], null, 2, 1, started.AddSeconds(7), DateTimeOffset.UtcNow.AddSeconds(4),
            "Exited with code 1; restarting in 4 s."));
        foreach (var resource in catalog.Snapshot())
        {
            catalog.Log(resource.Name, LogStream.System, $"Starting {resource.Source}");
            catalog.Log(resource.Name, LogStream.StdOut, $"info: {resource.Name} listening on {string.Join(", ", resource.Endpoints)}");
        }
        for (var epoch = 1; epoch <= 12; epoch++)
        {
            catalog.Log("trainer-service", LogStream.StdOut, $"info: CremaD.Services.Training.TrainingWorker[0] epoch {epoch}/12 train_loss={1.8 - epoch * 0.07:0.0000} val_acc={0.2 + epoch * 0.03:0.000}");
        }
        catalog.Log("evaluation-service", LogStream.StdErr, "fail: Unhandled exception. System.IO.IOException: blob endpoint refused the connection");
        catalog.Log("evaluation-service", LogStream.System, "Exited with code 1; restarting in 4 s.");
        return catalog;
    }
}
