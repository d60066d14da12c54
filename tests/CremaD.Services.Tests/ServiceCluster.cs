using System.Collections.Concurrent;
using System.Diagnostics;
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

/// <summary>The four services as in-process web hosts on a real broker and a real Azurite, each as its Program.cs builds it.</summary>
internal sealed class ServiceCluster(RabbitMqFixture rabbit, AzuriteFixture azurite) : TestCluster(rabbit, azurite, "e2e", TimeSpan.FromSeconds(120))
{
    private readonly List<(WebApplication App, ConcurrentQueue<Activity> Spans)> _hosts = [];
    private readonly ConcurrentQueue<Activity> _stoppedHostSpans = new();
    private HttpClient? _runsApi;

    protected override HttpClient RunsApiClient => _runsApi ?? throw new InvalidOperationException("The runs API has not been started.");

    /// <summary>Starts the named instances one after the other (<see cref="TestCluster.ServiceOf"/>).</summary>
    public async Task StartAsync(params string[] names)
    {
        foreach (var name in names) await StartAsync(name, configure: null);
    }

    /// <summary>
    /// Starts the instance <paramref name="name"/> as its Program.cs builds it; <paramref name="configure"/> changes the
    /// registrations after the service's own (to put a failing store in, say).
    /// </summary>
    public async Task<WebApplication> StartAsync(string name, Action<WebApplicationBuilder>? configure)
    {
        var service = ServiceOf(name);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:messaging"] = RabbitConnectionString,
            ["ConnectionStrings:blobs"] = AzuriteConnectionString,
            [BlobStorageExtensions.BlobContainerKey] = Container,
            [ServiceWorkOptions.ConfigurationKey] = Temp.Sub(name + "-" + Guid.NewGuid().ToString("N")[..6]),
            ["OTEL_SERVICE_NAME"] = name,
        });
        builder.Configuration.AddInMemoryCollection(QuickSettings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value)));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddServiceDefaults();
        _ = service switch
        {
            TestService.RunsApi => builder.AddCremaDRunsApi(),
            TestService.Features => builder.AddCremaDFeatureService(),
            TestService.Trainer => builder.AddCremaDTrainerService(),
            _ => builder.AddCremaDEvaluationService(),
        };
        configure?.Invoke(builder);
        var spans = new ConcurrentQueue<Activity>();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(new QueueCollection(spans)));
        var app = builder.Build();
        app.MapDefaultEndpoints();
        if (service == TestService.RunsApi) app.MapCremaDRunsApi();
        await app.StartAsync();
        _hosts.Add((app, spans));
        if (service == TestService.RunsApi)
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            _runsApi = AuthorizedClient(new Uri(address));
        }
        return app;
    }

    /// <summary>A client of the runs API (started first).</summary>
    public HttpClient RunsApi => RunsApiClient;

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

    public override async ValueTask DisposeAsync()
    {
        _runsApi?.Dispose();
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
        await base.DisposeAsync();
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
