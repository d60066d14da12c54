using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CremaD.AppHost.Tests.Dashboard;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CremaD.AppHost.Tests.AppHost;

/// <summary>
/// The dashboard of the real AppHost (embedded mode, a 2-epoch demo run) in headless Chromium, with nothing faked: the
/// printed login URL, the resources, the completed run (stages, curves, test accuracy, confusion matrix, artefact
/// links that download) and the run's trace with the spans the services really emit. Screenshots land in
/// <c>apphost-screenshots/</c> beside the test assembly; the path is printed.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed partial class AppHostBrowserTests(ITestOutputHelper output)
{
    private const int Epochs = 2;

    /// <summary>The pipeline's own spans (not HTTP or storage ones) a completed run's trace must hold.</summary>
    private static readonly string[] StageSpanNames = ["plan run", "feature shard", "normalisation reduce", "train model", "epoch", "evaluate model"];

    [Fact]
    public async Task The_dashboard_shows_a_real_completed_run_and_its_trace()
    {
        var chromium = DashboardBrowserTests.FindChromium();
        var screenshots = Path.Combine(AppContext.BaseDirectory, "apphost-screenshots");
        Directory.CreateDirectory(screenshots);
        output.WriteLine($"Screenshots: {screenshots}");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var host = await AppHostProcess.StartAsync("--mode", "embedded", "--epochs", Epochs.ToString(CultureInfo.InvariantCulture));
        try
        {
            var runId = (await host.WaitForConsoleAsync(SubmittedLine(), TimeSpan.FromMinutes(3))).Groups["id"].Value;
            output.WriteLine($"run {runId} submitted after {clock.Elapsed.TotalSeconds:0} s");
            var run = await WaitForCompletionAsync(host, runId, TimeSpan.FromMinutes(8));
            output.WriteLine($"run completed after {clock.Elapsed.TotalSeconds:0} s");
            var traceId = (await WaitForRunTraceAsync(host, runId)).Value;

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = chromium, Headless = true });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
            var page = await context.NewPageAsync();
            var problems = new List<string>();
            page.Console += (_, message) => { if (message.Type is "error" or "warning") problems.Add($"console {message.Type}: {message.Text}"); };
            page.PageError += (_, error) => problems.Add($"page error: {error}");
            // A loaded 2-core machine: the first render after a navigation may take a while.
            page.SetDefaultTimeout(30_000);
            try
            {
                await ResourcesAsync(host, page, screenshots);
                await RunAsync(context, page, screenshots, runId, run, traceId);
                await TraceAsync(host, page, screenshots, runId, traceId);
                await DescribeTraceAsync(host, output, runId, traceId);
            }
            catch (Exception e) when (e is TimeoutException or PlaywrightException or Xunit.Sdk.XunitException)
            {
                var shot = Path.Combine(screenshots, "failure.png");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
                throw new InvalidOperationException($"At {page.Url} (screenshot {shot}): {e.Message}\nBrowser problems:\n{string.Join("\n", problems)}", e);
            }
            Assert.Empty(problems);
            output.WriteLine($"browser walkthrough done after {clock.Elapsed.TotalSeconds:0} s");
        }
        catch (Exception)
        {
            output.WriteLine(host.Console);
            throw;
        }
    }

    /// <summary>The printed login URL lands on the resources: RabbitMQ, Azurite and the in-process services, all up.</summary>
    private static async Task ResourcesAsync(AppHostProcess host, IPage page, string screenshots)
    {
        await page.GotoAsync(host.LoginUrl.AbsoluteUri);
        await page.WaitForURLAsync("**/#/resources");
        await page.Locator("#resources tbody tr[data-resource]").First.WaitForAsync();
        await Expect(page.Locator("#resources tbody tr")).ToHaveCountAsync(3);
        foreach (var name in new[] { "messaging", "blobs", "services" })
        {
            var row = page.Locator($"#resources tr[data-resource='{name}']");
            await Expect(row).ToContainTextAsync("Running");
            await Expect(row).ToContainTextAsync("Healthy");
        }
        // The services run inside the AppHost: their row names its process.
        await Expect(page.Locator("#resources tr[data-resource='services']")).ToContainTextAsync(host.ProcessId.ToString(CultureInfo.InvariantCulture));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "1-resources.png"), FullPage = true });
    }

    /// <summary>The completed run: every stage done, both curves with one point per epoch, the test accuracy, the matrix, the artefacts.</summary>
    private static async Task RunAsync(IBrowserContext context, IPage page, string screenshots, string runId, JsonElement run, string traceId)
    {
        await page.ClickAsync("header nav a[data-nav=runs]");
        var runRow = page.Locator($"#runs tr[data-run='{runId}']");
        await Expect(runRow).ToContainTextAsync("Completed");
        await runRow.Locator("a").First.ClickAsync();
        await page.WaitForURLAsync($"**/#/runs/{runId}");
        await page.Locator("#run-stage").WaitForAsync();
        await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Completed");
        await Expect(page.Locator("#timeline .stage.done")).ToHaveCountAsync(5);
        foreach (var chart in new[] { "#loss-chart", "#accuracy-chart" })
        {
            // Two series (train, validation), each a line through one point per epoch.
            await Expect(page.Locator($"{chart} polyline")).ToHaveCountAsync(2);
            await Expect(page.Locator($"{chart} circle")).ToHaveCountAsync(2 * Epochs);
            foreach (var points in await page.Locator($"{chart} polyline").EvaluateAllAsync<string[]>("ls => ls.map(l => l.getAttribute('points'))"))
            {
                var coordinates = points.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal(Epochs, coordinates.Length);
                Assert.All(coordinates, c => Assert.Matches(@"^\d+(\.\d+)?,\d+(\.\d+)?$", c));
            }
        }
        var evaluation = run.GetProperty("evaluation");
        var accuracy = Percent(evaluation.GetProperty("accuracy").GetDouble());
        await Expect(page.Locator("#summary .card", new() { HasText = "Test accuracy" })).ToContainTextAsync(accuracy);
        await Expect(page.Locator("#summary .card", new() { HasText = "Epochs" })).ToContainTextAsync($"{Epochs}/{Epochs}");
        await Expect(page.Locator("#recall")).ToContainTextAsync(accuracy);
        await Expect(page.Locator("#recall .recall .bar")).ToHaveCountAsync(evaluation.GetProperty("perClassRecall").GetArrayLength());

        var matrix = page.Locator("img#confusion-matrix");
        await Expect(matrix).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("() => { const i = document.getElementById('confusion-matrix'); return i && i.complete && i.naturalWidth > 0; }");
        Assert.True(await matrix.EvaluateAsync<int>("i => i.naturalWidth") > 100, "The confusion matrix PNG did not load.");

        // Every artefact has a download link, and each link serves the file to the logged-in browser.
        var artifacts = run.GetProperty("artifacts").EnumerateArray().Select(a => a.GetProperty("name").GetString()!).ToList();
        foreach (var expected in new[] { "history.json", "training_curves.png", "confusion_matrix.png", "classification_report.json", "test_metrics.json" })
        {
            Assert.Contains(expected, artifacts);
        }
        var downloads = page.Locator("#artifacts a[download]");
        await Expect(downloads).ToHaveCountAsync(artifacts.Count);
        foreach (var (name, href) in (await downloads.EvaluateAllAsync<string[][]>("ls => ls.map(l => [l.getAttribute('download'), l.href])")).Select(p => (p[0], p[1])))
        {
            Assert.Contains(name, artifacts);
            var response = await context.APIRequest.GetAsync(href);
            Assert.True(response.Ok, $"{name}: {href} answered {response.Status}");
            Assert.NotEmpty(await response.BodyAsync());
        }

        await Expect(page.Locator($"#run-trace-list tr[data-trace='{traceId}']")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "2-run.png"), FullPage = true });
    }

    /// <summary>The run's trace from its link on the run page: every span in the waterfall, the stages in their order.</summary>
    private static async Task TraceAsync(AppHostProcess host, IPage page, string screenshots, string runId, string traceId)
    {
        await page.Locator($"#run-trace-list tr[data-trace='{traceId}'] a").First.ClickAsync();
        await page.WaitForURLAsync($"**/#/traces/{traceId}");
        var expectedSpans = (await host.GetJsonAsync($"api/traces/{traceId}")).GetProperty("spans").GetArrayLength();
        var spans = page.Locator("#waterfall .wf-row[data-span]");
        await spans.First.WaitForAsync();
        await Expect(spans).ToHaveCountAsync(expectedSpans);
        var names = (await page.Locator("#waterfall .wf-row[data-span] .wf-name").AllInnerTextsAsync()).Select(n => n.Trim()).ToList();
        foreach (var stage in StageSpanNames) Assert.Contains(names, n => n.StartsWith(stage, StringComparison.Ordinal));
        // One epoch span per epoch, told apart by their number.
        for (var epoch = 1; epoch <= Epochs; epoch++)
        {
            Assert.Contains(names, n => n.StartsWith($"epoch {epoch}", StringComparison.Ordinal));
        }

        // Training starts once the features are ready, evaluation once training is done: bars placed by time.
        var featureBar = await BarAsync(page, "feature shard");
        var trainBar = await BarAsync(page, "train model");
        var evaluateBar = await BarAsync(page, "evaluate model");
        Assert.True(trainBar.X > featureBar.X, "The train model bar should start after the first feature shard bar.");
        Assert.True(evaluateBar.X >= trainBar.X + trainBar.Width - 2, "The evaluate model bar should start after the train model bar ends.");
        Assert.True(trainBar.Width > 1, "The train model bar has no width.");

        await page.Locator("#waterfall .wf-row[data-span]", new() { HasText = "train model" }).First.ClickAsync();
        await Expect(page.Locator("#span-detail")).ToContainTextAsync("cremad.run_id");
        await Expect(page.Locator("#span-detail")).ToContainTextAsync(runId);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "3-trace.png"), FullPage = true });

        // Back to the run from the trace's header, then to the run's own trace list.
        await page.Locator(".page-head a", new() { HasText = "run " }).ClickAsync();
        await page.WaitForURLAsync($"**/#/runs/{runId}");
        await page.Locator("a", new() { HasText = "All traces of this run" }).ClickAsync();
        await page.WaitForURLAsync($"**/#/traces?runId={runId}");
        await Expect(page.Locator($"#traces tr[data-trace='{traceId}']")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "4-run-traces.png"), FullPage = true });
    }

    /// <summary>The trace's shape, printed: how deep the span tree is decides whether the waterfall's names stay legible.</summary>
    private static async Task DescribeTraceAsync(AppHostProcess host, ITestOutputHelper output, string runId, string traceId)
    {
        var spans = (await host.GetJsonAsync($"api/traces/{traceId}")).GetProperty("spans").EnumerateArray()
            .Select(s => (Name: s.GetProperty("name").GetString()!, Depth: s.GetProperty("depth").GetInt32())).ToList();
        output.WriteLine($"trace {traceId}: {spans.Count} spans, deepest at depth {spans.Max(s => s.Depth)}; "
                         + string.Join(", ", StageSpanNames.Select(n => $"{n} at depth {spans.First(s => s.Name == n).Depth}")));
        var all = (await host.GetJsonAsync("api/traces")).GetProperty("traces").EnumerateArray().ToList();
        output.WriteLine($"the unfiltered trace list holds {all.Count} traces, {all.Count(t => t.TryGetProperty("runId", out var r) && r.GetString() == runId)} of the run; "
                         + "most common roots: " + string.Join(", ", all.GroupBy(t => t.GetProperty("rootName").GetString()).OrderByDescending(g => g.Count()).Take(6).Select(g => $"{g.Key} ×{g.Count()}")));
    }

    private static async Task<LocatorBoundingBoxResult> BarAsync(IPage page, string spanName)
    {
        var row = page.Locator("#waterfall .wf-row[data-span]", new() { Has = page.Locator(".wf-name", new() { HasTextRegex = new Regex($"^{Regex.Escape(spanName)}") }) }).First;
        var box = await row.Locator(".wf-bar").BoundingBoxAsync();
        Assert.True(box is not null, $"The {spanName} bar is not shown.");
        return box;
    }

    private static async Task<JsonElement> WaitForCompletionAsync(AppHostProcess host, string runId, TimeSpan timeout)
    {
        await host.EventuallyAsync(async () =>
        {
            var stage = (await host.GetJsonAsync($"api/runs/{runId}")).GetProperty("stage").GetString();
            Assert.NotEqual("failed", stage);
            return stage == "completed" ? true : (bool?)null;
        }, timeout, $"run {runId} completed");
        return await host.GetJsonAsync($"api/runs/{runId}");
    }

    /// <summary>The run's trace once it holds every stage span (spans arrive about a second after they end).</summary>
    private static async Task<TraceId> WaitForRunTraceAsync(AppHostProcess host, string runId)
    {
        return await host.EventuallyAsync<TraceId>(async () =>
        {
            foreach (var trace in (await host.GetJsonAsync($"api/traces?runId={runId}")).GetProperty("traces").EnumerateArray())
            {
                var traceId = trace.GetProperty("traceId").GetString()!;
                var spans = (await host.GetJsonAsync($"api/traces/{traceId}")).GetProperty("spans").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
                if (StageSpanNames.All(spans.Contains) && spans.Count(n => n == "epoch") == Epochs) return new TraceId(traceId);
            }
            return null;
        }, TimeSpan.FromSeconds(60), $"a trace of run {runId} with the spans {string.Join(", ", StageSpanNames)}");
    }

    /// <summary>A trace id (a struct, for <see cref="AppHostProcess.EventuallyAsync{T}"/>).</summary>
    private readonly record struct TraceId(string Value)
    {
        public override string ToString() => Value;
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    [GeneratedRegex(@"Run (?<id>[0-9a-f-]{36}) submitted")]
    private static partial Regex SubmittedLine();
}
