using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CremaD.Testing;
using CremaD.AppHost.Demo;
using CremaD.AppHost.Supervision;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CremaD.AppHost.Tests;

/// <summary>
/// The real AppHost under Aspire.Hosting.Testing (DCP, the Aspire dashboard, every service a process, a private RabbitMQ
/// and Azurite): the demo run completes; a second demo run, started from the runs-api resource's dashboard command, has
/// its trainer, then the broker, then Azurite killed mid-run — each is restarted by the AppHost and the run completes
/// with the same artefacts as the undisturbed one. Then Chromium logs into the Aspire dashboard with the printed token
/// and finds the resources, a trace across the services, and the runs UI showing both runs.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class DistributedRunTests(ITestOutputHelper output)
{
    // Long enough that the second run (features reused, ~4 s an epoch) is still training while the faults land.
    private const int Epochs = 20;
    private static readonly string[] Services = ["runs-api", "feature-service", "trainer-service", "evaluation-service"];
    private static readonly string[] Deterministic = ["test_metrics.json", "classification_report.json", "test_predictions.csv"];

    private const string ApiKey = "apphost-test-runs-api-key-0123456789abcdefgh";

    [RequiresInfrastructureFact(CremaD.Testing.Infrastructure.RabbitMq | CremaD.Testing.Infrastructure.Azurite | CremaD.Testing.Infrastructure.Chromium)]
    public async Task Killed_trainer_broker_and_azurite_are_restarted_and_the_run_completes_with_the_undisturbed_artifacts()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        var ct = timeout.Token;
        var artifacts = Directory.CreateTempSubdirectory("cremad-aspire-test-").FullName;
        var consoleLines = new CapturingLoggerProvider();
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CremaD_AppHost>(
            ["--mode", "distributed", "--epochs", Epochs.ToString(), "--artifacts-dir", artifacts, $"--Parameters:runs-api-key={ApiKey}"],
            (options, _) => options.DisableDashboard = false, ct);
        appHost.Services.AddLogging(logging => logging.AddProvider(consoleLines)
            // The services' own lines are in the dashboard; the test log keeps their warnings and errors.
            .AddFilter("CremaD.AppHost.Resources", LogLevel.Warning));
        await using var app = await appHost.BuildAsync(ct);
        await app.StartAsync(ct);
        var notifications = app.ResourceNotifications;
        try
        {
            // 1. The undisturbed demo run.
            await notifications.WaitForResourceAsync(DemoRunExtensions.ResourceName, KnownResourceStates.Finished, ct);
            var first = Assert.Single(Directory.GetDirectories(artifacts));
            using var runsApi = app.CreateHttpClient("runs-api", "http");
            // Without the key the API refuses; the AppHost's parameter (given above instead of generated) is the key.
            using (var refused = await runsApi.GetAsync("runs", ct)) Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
            runsApi.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);

            // 2. Another demo run from the dashboard command; faults while it trains.
            var commands = app.Services.GetRequiredService<ResourceCommandService>();
            var submitted = await commands.ExecuteCommandAsync("runs-api", DemoRunExtensions.SubmitDemoCommand, ct);
            Assert.True(submitted.Success, submitted.Message);
            var runId = await WaitForAsync(async () =>
            {
                var runs = await runsApi.GetFromJsonAsync<JsonElement>("runs", ct);
                return runs.EnumerateArray().Select(r => r.GetProperty("runId").GetString()).FirstOrDefault(id => !first.EndsWith(id!, StringComparison.Ordinal));
            }, "the second run", ct);
            await WaitForAsync(async () => (await EpochsDoneAsync(runsApi, runId, ct)) >= 1 ? true : (bool?)null, "epoch 1 of the second run", ct);

            foreach (var victim in new[] { "trainer-service", "messaging", "blobs" })
            {
                var before = await notifications.WaitForResourceAsync(victim, e => e.Snapshot.State?.Text == KnownResourceStates.Running && ProcessIdOf(e.Snapshot) > 0, ct);
                var pid = ProcessIdOf(before.Snapshot);
                // A project runs as `dotnet run --no-build`: its crash is the death of the service process under it.
                var target = before.Resource is ProjectResource
                    ? ProcessTree.All().Single(e => e.ParentPid == pid && e.State != "Z").Pid
                    : pid;
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss} SIGKILL {victim} (pid {target})");
                ProcessTree.Signal(target, ProcessTree.SigKill);
                var restarted = await notifications.WaitForResourceAsync(victim,
                    e => e.Snapshot.State?.Text == KnownResourceStates.Running && ProcessIdOf(e.Snapshot) is var p && p > 0 && p != pid, ct);
                await notifications.WaitForResourceHealthyAsync(victim, ct);
                var restarts = restarted.Snapshot.Properties.FirstOrDefault(p => p.Name == RestartSupervisor.RestartsProperty)?.Value;
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {victim} is back as pid {ProcessIdOf(restarted.Snapshot)} (restarts: {restarts})");
            }

            var second = await notifications.WaitForResourceAsync(DemoRunExtensions.ResourceName,
                e => e.Snapshot.State?.Text == KnownResourceStates.Finished && Directory.GetDirectories(artifacts).Length == 2, ct);
            Assert.Equal(0, second.Snapshot.ExitCode);
            var secondFolder = Path.Combine(artifacts, runId);
            foreach (var name in Deterministic)
            {
                Assert.Equal(await File.ReadAllTextAsync(Path.Combine(first, name), ct), await File.ReadAllTextAsync(Path.Combine(secondFolder, name), ct));
            }
            foreach (var name in new[] { "best_model", "training_curves.png", "confusion_matrix.png", "history.json", "model.json" })
            {
                Assert.True(new FileInfo(Path.Combine(secondFolder, name)) is { Exists: true, Length: > 0 }, $"{name} is missing");
            }

            // 3. What a person sees: the dashboard (login with the printed token) and the runs UI.
            var login = consoleLines.Lines.Select(l => l.IndexOf("Login to the dashboard at ", StringComparison.Ordinal) is var i and >= 0
                ? l[(i + "Login to the dashboard at ".Length)..].Trim() : null).First(l => l is not null)!;
            var runsUi = runsApi.BaseAddress!;
            await LookAtDashboardAndRunsUiAsync(login, runsUi, [Path.GetFileName(first), runId], ct);
        }
        finally
        {
            output.WriteLine(string.Join("\n", consoleLines.Lines.TakeLast(40)));
            try { Directory.Delete(artifacts, recursive: true); } catch (IOException) { }
        }
    }

    private async Task LookAtDashboardAndRunsUiAsync(string loginUrl, Uri runsUi, string[] runIds, CancellationToken ct)
    {
        var screenshots = Path.Combine(AppContext.BaseDirectory, "dashboard-screenshots");
        Directory.CreateDirectory(screenshots);
        output.WriteLine($"Screenshots: {screenshots}");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(Chromium.LaunchOptions());
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1600, Height = 1000 } });
        page.SetDefaultTimeout(30_000);
        try
        {
            await page.GotoAsync(loginUrl);
            // Replicas show as rows of their own (feature-service-<suffix>): messaging, blobs, 2 + 3 services, demo-run.
            await Assertions.Expect(page.GetByText("trainer-service", new() { Exact = true })).ToBeVisibleAsync();
            await Assertions.Expect(page.Locator("[role=row]", new() { HasText = "feature-service" })).ToHaveCountAsync(2);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "1-resources.png"), FullPage = true });
            var rows = await page.Locator("[role=row]").AllInnerTextsAsync();
            foreach (var name in (string[])["messaging", "blobs", .. Services])
            {
                var row = rows.FirstOrDefault(r => r.Contains(name, StringComparison.Ordinal) && r.Contains("Running", StringComparison.Ordinal)
                                                   && !r.Contains("Unhealthy", StringComparison.Ordinal));
                Assert.True(row is not null, $"no healthy Running row for {name} in:\n{string.Join("\n---\n", rows)}");
            }

            // One trace per run, from POST /runs through features, training and evaluation.
            await page.GotoAsync(new Uri(new Uri(loginUrl), "/traces").ToString());
            await page.Locator("input[name=traces-search]").Last.FillAsync("POST /runs");
            var postRuns = page.Locator("[role=row]", new() { HasText = "POST /runs" }).First;
            await Assertions.Expect(postRuns).ToBeVisibleAsync();
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "2-traces.png"), FullPage = true });
            var traceRows = await page.Locator("[role=row]", new() { HasText = "POST /runs" }).AllInnerTextsAsync();
            // The Spans column names up to three resources and folds the rest into "+N".
            var widest = traceRows.Max(r => Services.Count(s => r.Contains(s, StringComparison.Ordinal))
                                            + (System.Text.RegularExpressions.Regex.Match(r, @"^\+(\d+)$", System.Text.RegularExpressions.RegexOptions.Multiline)
                                                is { Success: true } more ? int.Parse(more.Groups[1].Value) : 0));
            Assert.True(widest >= 4, $"no POST /runs trace spans the four services:\n{string.Join("\n---\n", traceRows)}");

            // As the dashboard's "Runs UI" link opens it: the key in the fragment.
            await page.GotoAsync($"{runsUi}#key={ApiKey}");
            foreach (var runId in runIds) await Assertions.Expect(page.GetByText(runId[..8]).First).ToBeVisibleAsync();
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "3-runs-ui.png"), FullPage = true });
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException)
        {
            var shot = Path.Combine(screenshots, "failure.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
            throw new InvalidOperationException($"At {page.Url} (screenshot {shot}): {e.Message}", e);
        }
    }

    private static int ProcessIdOf(CustomResourceSnapshot snapshot) =>
        snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value is { } value && int.TryParse(value.ToString(), out var pid) ? pid : 0;

    private static async Task<int> EpochsDoneAsync(HttpClient runsApi, string runId, CancellationToken ct)
    {
        var status = await runsApi.GetFromJsonAsync<JsonElement>($"runs/{runId}", ct);
        return status.GetProperty("training").GetProperty("history").GetArrayLength();
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, string what, CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                if (await probe() is { } value) return value;
            }
            catch (HttpRequestException)
            {
                // The runs API restarts with its dependencies; ask again.
            }
            await Task.Delay(TimeSpan.FromSeconds(1), ct).ContinueWith(_ => { }, TaskScheduler.Default);
            if (ct.IsCancellationRequested) throw new TimeoutException($"Gave up waiting for {what}.");
        }
    }
}

/// <summary>Keeps the AppHost's log messages (the dashboard's login URL among them).</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines) return [.. _lines];
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._lines) owner._lines.Add($"{category}: {formatter(state, exception)}");
        }
    }
}
