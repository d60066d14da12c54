using System.Collections.Concurrent;
using System.Diagnostics;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace CremaD.Services.Tests;

[CollectionDefinition(Name)]
public sealed class InfrastructureCollection : ICollectionFixture<RabbitMqFixture>, ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Real RabbitMQ and Azurite";
}

/// <summary>The four services as in-process web hosts on a real broker and a real Azurite, each as its Program.cs builds it.</summary>
internal sealed class ServiceCluster : IAsyncDisposable
{
    private readonly RabbitMqFixture _rabbit;
    private readonly AzuriteFixture _azurite;
    private readonly TempDirectory _temp = new();
    private readonly List<(WebApplication App, ConcurrentQueue<Activity> Spans)> _hosts = [];
    private readonly ConcurrentQueue<Activity> _stoppedHostSpans = new();

    public ServiceCluster(RabbitMqFixture rabbit, AzuriteFixture azurite)
    {
        _rabbit = rabbit;
        _azurite = azurite;
        Container = "e2e-" + Guid.NewGuid().ToString("N")[..12];
        Blobs = BlobStoreFactory.FromConnectionString(azurite.ConnectionString, Container);
        States = new RunStateStore(Blobs);
    }

    public string Container { get; }

    public IBlobStore Blobs { get; }

    public RunStateStore States { get; }

    public HttpClient? RunsApi { get; private set; }

    public static WebApplicationBuilder AddRunsApi(WebApplicationBuilder b) => b.AddCremaDRunsApi();
    public static WebApplicationBuilder AddFeatures(WebApplicationBuilder b) => b.AddCremaDFeatureService();
    public static WebApplicationBuilder AddTrainer(WebApplicationBuilder b) => b.AddCremaDTrainerService();
    public static WebApplicationBuilder AddEvaluation(WebApplicationBuilder b) => b.AddCremaDEvaluationService();

    /// <summary>Starts a host named <paramref name="name"/> wired by <paramref name="add"/>.</summary>
    public async Task<WebApplication> StartAsync(string name, Func<WebApplicationBuilder, WebApplicationBuilder> add)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:messaging"] = _rabbit.ConnectionString,
            ["ConnectionStrings:blobs"] = _azurite.ConnectionString,
            [BlobStorageExtensions.BlobContainerKey] = Container,
            [ServiceWorkOptions.ConfigurationKey] = _temp.Sub(name + "-" + Guid.NewGuid().ToString("N")[..6]),
            ["Messaging:RetryIntervals:0"] = "00:00:00.200",
            ["Messaging:RetryIntervals:1"] = "00:00:01",
            ["Trainer:PollInterval"] = "00:00:01",
            ["Trainer:LeaseDuration"] = "00:00:15",
            ["Trainer:Threads"] = "1",
            ["Evaluation:Threads"] = "1",
            ["OTEL_SERVICE_NAME"] = name,
        });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddServiceDefaults();
        add(builder);
        var spans = new ConcurrentQueue<Activity>();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(new QueueCollection(spans)));
        var app = builder.Build();
        app.MapDefaultEndpoints();
        if (add == AddRunsApi) app.MapCremaDRunsApi();
        await app.StartAsync();
        _hosts.Add((app, spans));
        if (add == AddRunsApi)
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            RunsApi = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
        }
        return app;
    }

    /// <summary>Stops a host (its in-flight work is cancelled) and keeps the spans it collected.</summary>
    public async Task StopAsync(WebApplication app)
    {
        var host = _hosts.Single(h => h.App == app);
        await app.StopAsync();
        await app.DisposeAsync();
        foreach (var span in host.Spans) _stoppedHostSpans.Enqueue(span);
        _hosts.Remove(host);
    }

    /// <summary>Every span any host exported; each is seen by every host's tracer provider, so they are de-duplicated.</summary>
    public IReadOnlyList<Activity> Spans() =>
        _hosts.SelectMany(h => h.Spans).Concat(_stoppedHostSpans)
            .GroupBy(a => a.SpanId).Select(g => g.First()).ToList();

    public async ValueTask DisposeAsync()
    {
        RunsApi?.Dispose();
        foreach (var (app, _) in _hosts.AsEnumerable().Reverse())
        {
            try
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
            }
        }
        if (Blobs is AzureBlobStore azure) await azure.Container.DeleteIfExistsAsync();
        _temp.Dispose();
    }

    /// <summary>Uploads a small course-layout dataset cut from samples/demo under <c>datasets/&lt;name&gt;/</c>.</summary>
    public async Task<string> UploadDatasetAsync(string name, int train, int validation, int test, bool brokenClip)
    {
        var local = _temp.Sub("dataset-" + name);
        TestDatasets.WriteDemoSubset(local, train, validation, test, brokenClip);
        await Blobs.UploadDirectoryAsync(local, $"datasets/{name}");
        return name;
    }

    /// <summary>ICollection over a concurrent queue: what the in-memory exporter appends to.</summary>
    private sealed class QueueCollection(ConcurrentQueue<Activity> queue) : ICollection<Activity>
    {
        public int Count => queue.Count;
        public bool IsReadOnly => false;
        public void Add(Activity item) => queue.Enqueue(item);
        public void Clear() => queue.Clear();
        public bool Contains(Activity item) => queue.Contains(item);
        public void CopyTo(Activity[] array, int arrayIndex) => queue.ToArray().CopyTo(array, arrayIndex);
        public bool Remove(Activity item) => throw new NotSupportedException();
        public IEnumerator<Activity> GetEnumerator() => queue.GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
