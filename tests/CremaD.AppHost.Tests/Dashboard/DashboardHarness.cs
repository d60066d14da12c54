using System.Net.Http.Headers;
using CremaD.Orchestration.Dashboard;
using CremaD.Orchestration.Telemetry;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>
/// A dashboard on free loopback ports over a <see cref="TestResourceCatalog"/>, a real <see cref="TraceStore"/> and a
/// <see cref="FakeRunsApi"/> serving a completed <see cref="DemoRun"/>. The runs API is announced only after
/// <see cref="ConnectRunsApi"/>, as the AppHost does once it is up.
/// </summary>
internal sealed class DashboardHarness : IAsyncDisposable
{
    public const string OtlpApiKey = "test-otlp-key";

    private Uri? _runsApi;

    private DashboardHarness(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }

    public TestResourceCatalog Resources { get; } = TestResourceCatalog.Demo();

    public TraceStore Traces { get; } = new();

    public DemoRun Run { get; private set; } = null!;

    public FakeRunsApi RunsApi { get; private set; } = null!;

    public DashboardServer Server { get; private set; } = null!;

    /// <summary>A client that is not logged in and follows no redirects (to see them).</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    /// <summary>A client sending the token as a bearer header, as scripts do.</summary>
    public HttpClient Authorized { get; private set; } = null!;

    public static async Task<DashboardHarness> StartAsync(bool connectRunsApi = true)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"cremad-dashboard-{Guid.NewGuid():N}");
        var harness = new DashboardHarness(directory);
        try
        {
            harness.Run = DemoRun.Create(Path.Combine(directory, "artifacts"));
            harness.RunsApi = await FakeRunsApi.StartAsync(harness.Run);
            harness.Server = await DashboardServer.StartAsync(new DashboardServerOptions
            {
                DashboardUrl = "http://127.0.0.1:0",
                OtlpHttpUrl = "http://127.0.0.1:0",
                OtlpApiKey = OtlpApiKey,
                RunsApiBaseAddress = () => harness._runsApi,
            }, harness.Resources, harness.Traces, CancellationToken.None);
            if (connectRunsApi) harness.ConnectRunsApi();
            harness.Anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
            {
                BaseAddress = harness.Server.DashboardAddress,
            };
            harness.Authorized = new HttpClient { BaseAddress = harness.Server.DashboardAddress };
            harness.Authorized.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", harness.Server.BrowserToken);
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    public void ConnectRunsApi(Uri? address = null) => _runsApi = address ?? RunsApi.BaseAddress;

    /// <summary>Sends the demo run's stage spans over OTLP/HTTP and waits until the store holds them; returns the trace id.</summary>
    public async Task<string> ExportStageSpansAsync()
    {
        var before = Traces.SpanCount;
        var traceId = StageSpans.Export(Run, Server.OtlpHttpAddress, OtlpApiKey);
        // ForceFlush returns once the exporter got its answer, so the spans are stored; the wait guards a slow machine.
        for (var i = 0; i < 100 && Traces.GetTrace(traceId) is null; i++) await Task.Delay(100);
        Assert.True(Traces.SpanCount > before, "No spans reached the trace store through the OTLP receiver.");
        return traceId;
    }

    public async ValueTask DisposeAsync()
    {
        Anonymous?.Dispose();
        Authorized?.Dispose();
        if (Server is not null) await Server.DisposeAsync();
        if (RunsApi is not null) await RunsApi.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
