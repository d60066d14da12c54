using CremaD.LocalInfrastructure;
using CremaD.Testing;

namespace CremaD.Services.Tests;

/// <summary>The four services as separate processes (<see cref="ServiceProcess"/>) on the fixtures' RabbitMQ and Azurite.</summary>
internal sealed class ProcessCluster : TestCluster
{
    public ProcessCluster(RabbitMqFixture rabbit, AzuriteFixture azurite) : base(rabbit, azurite, "proc", TimeSpan.FromSeconds(180))
    {
    }

    /// <summary>On a broker and an Azurite of the test's own; <paramref name="settings"/> added to every service's configuration.</summary>
    public ProcessCluster(string rabbit, string azurite, IReadOnlyDictionary<string, string>? settings = null, TimeSpan? runTimeout = null)
        : base(rabbit, azurite, "drill", runTimeout ?? TimeSpan.FromSeconds(300))
    {
        _settings = settings ?? new Dictionary<string, string>();
    }

    private readonly IReadOnlyDictionary<string, string> _settings = new Dictionary<string, string>();

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly List<ServiceProcess> _processes = [];

    protected override HttpClient RunsApiClient => Process("runs-api").Http;

    public ServiceProcess Process(string name)
    {
        lock (_processes) return _processes.Single(p => p.Name == name);
    }

    /// <summary>
    /// Starts the built host of the instance <paramref name="name"/> (<see cref="TestCluster.ServiceOf"/>); its blob
    /// storage is <paramref name="blobs"/> (default: Azurite directly).
    /// </summary>
    public async Task<ServiceProcess> StartAsync(string name, string? blobs = null)
    {
        var host = ServiceOf(name) switch
        {
            TestService.RunsApi => "CremaD.RunsApi",
            TestService.Features => "CremaD.FeatureService",
            TestService.Trainer => "CremaD.TrainerService",
            _ => "CremaD.EvaluationService",
        };
        var environment = ServiceProcess.BaseEnvironment(RabbitConnectionString, blobs ?? AzuriteConnectionString, Container, Temp.Sub("work-" + name));
        foreach (var (key, value) in QuickSettings.Concat(_settings)) environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var process = await ServiceProcess.StartAsync(host, name, environment, Temp.Sub("logs"), StartTimeout);
        lock (_processes) _processes.Add(process);
        return process;
    }

    public async Task<T> WithLogsOnTimeout<T>(Task<T> task, TimeSpan timeout, string what)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.{Environment.NewLine}{HostLogs()}", e);
        }
    }

    protected override string HostLogs()
    {
        lock (_processes) return string.Join(Environment.NewLine, _processes.Select(p => p.LogTail(30)));
    }

    public override async ValueTask DisposeAsync()
    {
        List<ServiceProcess> processes;
        lock (_processes) processes = [.. _processes];
        foreach (var process in processes) await process.DisposeAsync();
        await base.DisposeAsync();
    }
}
