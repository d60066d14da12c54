using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>
/// The dashboard in a real headless Chromium (Debian's <c>chromium</c> package, driven by Playwright): log in with the
/// printed URL, see the resources, a resource's console, a completed run (stages, curves, metrics, confusion matrix,
/// artefacts) and its trace waterfall with the stage spans. Screenshots of every page land in
/// <c>dashboard-screenshots/</c> beside the test assembly; the path is printed.
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    /// <summary>The apt command that provides the browser, for the failure message (CI installs it).</summary>
    public const string InstallCommand = "sudo apt-get install -y chromium";

    [Fact]
    public async Task Shows_resources_logs_and_a_completed_run_with_its_stage_spans()
    {
        var chromium = FindChromium();
        var screenshots = Path.Combine(AppContext.BaseDirectory, "dashboard-screenshots");
        Directory.CreateDirectory(screenshots);
        output.WriteLine($"Screenshots: {screenshots}");

        await using var harness = await DashboardHarness.StartAsync();
        var traceId = await harness.ExportStageSpansAsync();
        var runId = harness.Run.RunId.ToString("D");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = chromium, Headless = true });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
        var page = await context.NewPageAsync();
        var problems = new List<string>();
        page.Console += (_, message) => { if (message.Type is "error" or "warning") problems.Add($"console {message.Type}: {message.Text}"); };
        page.PageError += (_, error) => problems.Add($"page error: {error}");
        page.SetDefaultTimeout(15_000);
        try
        {
            await WalkThroughAsync(harness, page, screenshots, traceId, runId);
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException or Xunit.Sdk.XunitException)
        {
            // What the browser showed and said when it went wrong is most of the diagnosis.
            var shot = Path.Combine(screenshots, "failure.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
            throw new InvalidOperationException($"At {page.Url} (screenshot {shot}): {e.Message}\nBrowser problems:\n{string.Join("\n", problems)}", e);
        }
        Assert.Empty(problems);
    }

    private static async Task WalkThroughAsync(DashboardHarness harness, IPage page, string screenshots, string traceId, string runId)
    {

        // Not logged in: the page sends the browser to the login form.
        await page.GotoAsync(harness.Server.DashboardAddress.AbsoluteUri);
        await page.WaitForURLAsync("**/login");
        await Expect(page.Locator("input[name=t]")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "0-login.png") });

        // The login URL the AppHost prints: straight to the resources.
        await page.GotoAsync(harness.Server.LoginUrl.AbsoluteUri);
        await page.WaitForURLAsync("**/#/resources");
        var rows = page.Locator("#resources tbody tr");
        await Expect(rows).ToHaveCountAsync(6);
        foreach (var name in new[] { "messaging", "blobs", "runs-api", "feature-service", "trainer-service", "evaluation-service" })
        {
            await Expect(page.Locator($"#resources tr[data-resource='{name}']")).ToBeVisibleAsync();
        }
        var trainer = page.Locator("#resources tr[data-resource='trainer-service']");
        await Expect(trainer).ToContainTextAsync("Running");
        await Expect(trainer).ToContainTextAsync("41107");
        await Expect(trainer).ToContainTextAsync("137");
        await Expect(page.Locator("#resources tr[data-resource='evaluation-service']")).ToContainTextAsync("Restarting");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "1-resources.png") });

        // A resource's console, followed live.
        await trainer.Locator("a", new() { HasText = "trainer-service" }).ClickAsync();
        await page.WaitForURLAsync("**/#/logs/trainer-service");
        await Expect(page.Locator("#console .line")).ToHaveCountAsync(14);
        harness.Resources.Log("trainer-service", CremaD.Orchestration.Resources.LogStream.StdErr, "warn: a line written after the page opened");
        await Expect(page.Locator("#console .line")).ToHaveCountAsync(15);
        await Expect(page.Locator("#console .line.stdErr").Last).ToContainTextAsync("after the page opened");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "2-console.png") });

        // The runs list, then the completed run.
        await page.ClickAsync("header nav a[data-nav=runs]");
        var runRow = page.Locator($"#runs tr[data-run='{runId}']");
        await Expect(runRow).ToContainTextAsync("Completed");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "3-runs.png") });
        await runRow.Locator("a").First.ClickAsync();
        await page.WaitForURLAsync($"**/#/runs/{runId}");
        await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Completed");
        await Expect(page.Locator("#timeline .stage.done")).ToHaveCountAsync(5);
        await Expect(page.Locator("#loss-chart polyline")).ToHaveCountAsync(2);
        await Expect(page.Locator("#accuracy-chart polyline")).ToHaveCountAsync(2);
        await Expect(page.Locator("#loss-chart circle")).ToHaveCountAsync(2 * DemoRun.Epochs);
        await Expect(page.Locator("#recall")).ToContainTextAsync("anger");
        await Expect(page.Locator("#summary")).ToContainTextAsync(Percent(harness.Run.Status.Evaluation!.Accuracy));
        var matrix = page.Locator("img#confusion-matrix");
        await Expect(matrix).ToBeVisibleAsync();
        await page.WaitForFunctionAsync("() => { const i = document.getElementById('confusion-matrix'); return i && i.complete && i.naturalWidth > 0; }");
        Assert.True(await matrix.EvaluateAsync<int>("i => i.naturalWidth") > 100, "The confusion matrix PNG did not load.");
        await Expect(page.Locator("#artifacts a[download]")).ToHaveCountAsync(harness.Run.Status.Artifacts.Count);
        await Expect(page.Locator("#rejected")).ToContainTextAsync("1003_IEO_SAD_LO.wav");
        var runTraces = page.Locator($"#run-trace-list tr[data-trace='{traceId}']");
        await Expect(runTraces).ToContainTextAsync("POST /runs");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "4-run.png"), FullPage = true });

        // The run's trace: a waterfall with every stage span, bars placed by time.
        await runTraces.Locator("a").First.ClickAsync();
        await page.WaitForURLAsync($"**/#/traces/{traceId}");
        var spans = page.Locator("#waterfall .wf-row[data-span]");
        await Expect(spans).ToHaveCountAsync(harness.Traces.GetTrace(traceId)!.Count);
        var names = await page.Locator("#waterfall .wf-row[data-span] .wf-name").AllInnerTextsAsync();
        foreach (var stage in StageSpans.StageSpanNames) Assert.Contains(names, n => n.Contains(stage, StringComparison.Ordinal));
        var trainRow = page.Locator("#waterfall .wf-row[data-span]", new() { HasText = "train model" });
        var bar = await trainRow.Locator(".wf-bar").BoundingBoxAsync();
        var track = await trainRow.Locator(".wf-track").BoundingBoxAsync();
        Assert.NotNull(bar);
        Assert.NotNull(track);
        // Training is most of the run, and starts after the features: a wide bar, not at the left edge.
        Assert.InRange(bar.Width / track.Width, 0.5, 0.95);
        Assert.True(bar.X > track.X + 0.02 * track.Width, "The train model bar should start after the feature stage.");
        await trainRow.ClickAsync();
        await Expect(page.Locator("#span-detail")).ToContainTextAsync("cremad.run_id");
        await Expect(page.Locator("#span-detail")).ToContainTextAsync(runId);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "5-trace.png"), FullPage = true });

        // The trace list, with the failed evaluation marked.
        await page.ClickAsync("header nav a[data-nav=traces]");
        await Expect(page.Locator("#traces tbody tr")).ToHaveCountAsync(2);
        await Expect(page.Locator("#traces .badge.bad")).ToHaveTextAsync("2");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "6-traces.png") });

        var failedRow = page.Locator("#traces tbody tr", new() { Has = page.Locator(".badge.bad") });
        await failedRow.Locator("a").First.ClickAsync();
        await page.Locator("#waterfall .wf-row[data-span]", new() { HasText = "blob download" }).ClickAsync();
        await Expect(page.Locator("#span-detail")).ToContainTextAsync("System.IO.InvalidDataException");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "7-failed-trace.png") });

        // A run in training: its curves grow as epochs are reported, without a reload.
        var liveId = Guid.NewGuid();
        harness.RunsApi.Put(harness.Run.InTraining(liveId, epochsDone: 5));
        await page.GotoAsync($"{harness.Server.DashboardAddress.AbsoluteUri}#/runs/{liveId:D}");
        await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Training");
        await Expect(page.Locator("#timeline .stage.current")).ToHaveAttributeAsync("data-stage", "training");
        await Expect(page.Locator("#loss-chart circle")).ToHaveCountAsync(2 * 5);
        await Expect(page.Locator("#metrics")).ToContainTextAsync("Not evaluated yet");
        harness.RunsApi.Put(harness.Run.InTraining(liveId, epochsDone: 6));
        await Expect(page.Locator("#loss-chart circle")).ToHaveCountAsync(2 * 6);
        await Expect(page.Locator("#summary")).ToContainTextAsync($"6/{DemoRun.Epochs}");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "8-run-in-training.png"), FullPage = true });
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    /// <summary>
    /// Debian's chromium (or the browser named by CREMAD_CHROMIUM). Missing is a failure, not a skip: the test
    /// would otherwise pass on a machine that never ran it.
    /// </summary>
    internal static string FindChromium()
    {
        var configured = Environment.GetEnvironmentVariable("CREMAD_CHROMIUM");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"CREMAD_CHROMIUM points to '{configured}', which does not exist.");
        }
        // The binary itself rather than Debian's /usr/bin/chromium shell wrapper, when present.
        foreach (var candidate in new[] { "/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser" })
        {
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            $"The dashboard browser test needs Chromium, and none was found (/usr/lib/chromium/chromium, /usr/bin/chromium). Install it with: {InstallCommand} "
            + "(or set CREMAD_CHROMIUM to a Chromium binary).");
    }
}
