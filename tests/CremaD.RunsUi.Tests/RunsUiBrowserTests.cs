using CremaD.Contracts;
using CremaD.Evaluation;
using CremaD.Testing;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace CremaD.RunsUi.Tests;

/// <summary>
/// The runs UI in a real headless Chromium against the real runs API: the run list, a completed run (stage timeline,
/// curves, metrics, confusion matrix, artefacts, two downloaded and compared byte for byte), a run in training whose
/// curves grow live and which is then cancelled from the page, a failed run, a run that does not exist, a completed
/// cross-validation sweep with its merged model card, and the message a 401 gets.
/// Screenshots of every page land in <c>runs-ui-screenshots/</c> beside the test assembly; the path is printed.
/// </summary>
public sealed class RunsUiBrowserTests(ITestOutputHelper output)
{
    [RequiresInfrastructureFact(Infrastructure.Chromium)]
    public async Task Shows_the_runs_a_completed_run_and_a_live_run_and_cancels_it()
    {
        var launch = Chromium.LaunchOptions();
        var screenshots = Path.Combine(AppContext.BaseDirectory, "runs-ui-screenshots");
        // Only this run's pictures: an earlier run's failure.png would mislead.
        if (Directory.Exists(screenshots)) Directory.Delete(screenshots, recursive: true);
        Directory.CreateDirectory(screenshots);
        output.WriteLine($"Screenshots: {screenshots}");

        await using var host = await RunsApiHost.StartAsync();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(launch);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1440, Height = 900 }, AcceptDownloads = true });
        var page = await context.NewPageAsync();
        var walk = new Walk(host, page, screenshots);
        page.Console += (_, message) =>
        {
            if (message.Type is not ("error" or "warning")) return;
            // The browser logs every failed request as a console error; the ones a step provokes on purpose are expected.
            if (walk.ExpectedFailures.Any(url => message.Location.Contains(url, StringComparison.Ordinal))) return;
            walk.Problems.Add($"console {message.Type}: {message.Text} ({message.Location})");
        };
        page.PageError += (_, error) => walk.Problems.Add($"page error: {error}");
        page.SetDefaultTimeout(15_000);
        Assertions.SetDefaultExpectTimeout(10_000);
        try
        {
            await walk.CompletedRunAsync();
            await walk.LiveRunAsync();
            await walk.FailedRunAsync();
            await walk.UnknownRunAsync();
            await walk.SweepAsync();
            await walk.UnauthorizedAsync();
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException or Xunit.Sdk.XunitException)
        {
            // What the browser showed and said when it went wrong is most of the diagnosis.
            var shot = Path.Combine(screenshots, "failure.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = shot, FullPage = true });
            throw new InvalidOperationException($"At {page.Url} (screenshot {shot}): {e.Message}\nBrowser problems:\n{string.Join("\n", walk.Problems)}", e);
        }
        Assert.Empty(walk.Problems);
    }

    private sealed class Walk(RunsApiHost host, IPage page, string screenshots)
    {
        public List<string> Problems { get; } = [];

        /// <summary>URLs (or their tails) whose failure a step provokes.</summary>
        public List<string> ExpectedFailures { get; } = [];

        private DemoRun Run => host.Run;

        private Task ShotAsync(string name, bool fullPage = false) =>
            page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, name), FullPage = fullPage });

        public async Task CompletedRunAsync()
        {
            var runId = Run.RunId.ToString("D");

            // The AppHost's "Runs UI" link carries the key in the fragment: the page keeps it for the tab and takes it out
            // of the address at once.
            await page.GotoAsync($"{host.Address.AbsoluteUri}#key={RunsApiHost.ApiKey}");
            await page.WaitForURLAsync("**/#/runs");
            Assert.DoesNotContain(RunsApiHost.ApiKey, page.Url, StringComparison.Ordinal);

            // The root lands on the run list, its hash in the address bar.
            await page.GotoAsync(host.Address.AbsoluteUri);
            await page.WaitForURLAsync("**/#/runs");
            var runRow = page.Locator($"#runs tr[data-run='{runId}']");
            await Expect(runRow).ToContainTextAsync("Completed");
            await Expect(runRow).ToContainTextAsync(Run.Status.Name!);
            await Expect(runRow).ToContainTextAsync(Percent(Run.Status.Evaluation!.Accuracy));
            await Expect(runRow).ToContainTextAsync($"{DemoRun.Epochs}/{DemoRun.Epochs}");
            await ShotAsync("1-runs.png");

            await runRow.Locator("a").First.ClickAsync();
            await page.WaitForURLAsync($"**/#/runs/{runId}");
            await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Completed");
            await Expect(page.Locator("#timeline .stage.done")).ToHaveCountAsync(5);
            await Expect(page.Locator("#gantt > div")).ToHaveCountAsync(5);
            await Expect(page.Locator("#loss-chart polyline")).ToHaveCountAsync(2);
            await Expect(page.Locator("#accuracy-chart polyline")).ToHaveCountAsync(2);
            await Expect(page.Locator("#loss-chart circle")).ToHaveCountAsync(2 * DemoRun.Epochs);
            await Expect(page.Locator("#loss-chart line.best")).ToHaveCountAsync(1);
            await Expect(page.Locator("#recall")).ToContainTextAsync("anger");
            await Expect(page.Locator("#summary")).ToContainTextAsync(Percent(Run.Status.Evaluation.Accuracy));
            await Expect(page.Locator("#summary")).ToContainTextAsync("acted emotions");
            await Expect(page.Locator("#summary")).ToContainTextAsync($"on {DemoRun.Worker}");
            await Expect(page.Locator("#cancel-run")).ToHaveCountAsync(0);
            await ExpectImageLoadedAsync("#confusion-matrix");
            await ExpectImageLoadedAsync("#artifacts [data-preview='training_curves.png'] img");
            await Expect(page.Locator("#artifacts a[download]")).ToHaveCountAsync(Run.Status.Artifacts.Count);
            // The model card panel: a row per speaker group of the run's model_card.json, too-small groups saying so, its plot.
            var card = ModelCard.FromJson(await File.ReadAllTextAsync(Path.Combine(Run.ArtifactsDirectory, ArtifactNames.ModelCardJson)));
            await Expect(page.Locator("#model-card tbody tr")).ToHaveCountAsync(card.Groups.Count);
            foreach (var group in card.Groups)
            {
                var row = page.Locator($"#model-card tr[data-group='{group.Attribute}:{group.Group}']");
                await Expect(row).ToContainTextAsync(group.TooFew ? "too few to report" : Percent(group.Accuracy!.Value));
            }
            await Expect(page.Locator("#model-card-gap")).ToContainTextAsync(card.LargestAccuracyGap is null ? "no gap can be measured" : "Largest accuracy gap");
            await ExpectImageLoadedAsync("#model-card-plot");
            await Expect(page.Locator("#rejected")).ToContainTextAsync("1003_IEO_SAD_LO.wav");
            Assert.Equal($"{Run.Status.Name} · CremaD", await page.TitleAsync());
            await ShotAsync("2-run.png", fullPage: true);

            // A download is the artefact as stored, byte for byte, under its own name.
            foreach (var name in new[] { "confusion_matrix.png", "classification_report.json" })
            {
                var download = await page.RunAndWaitForDownloadAsync(() =>
                    page.Locator($"#artifacts tr[data-artifact='{name}'] a[download]").ClickAsync());
                Assert.Equal(name, download.SuggestedFilename);
                var saved = await download.PathAsync();
                Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(Run.ArtifactsDirectory, name)), await File.ReadAllBytesAsync(saved));
            }
        }

        public async Task LiveRunAsync()
        {
            // A run in training, opened by its address: the curves grow as epochs are stored, without a reload.
            var liveId = Guid.NewGuid();
            await host.PutAsync(Run.InTraining(liveId, epochsDone: 5));
            await page.GotoAsync($"{host.Address.AbsoluteUri}#/runs/{liveId:D}");
            await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Training");
            await Expect(page.Locator("#timeline .stage.current")).ToHaveAttributeAsync("data-stage", "training");
            await Expect(page.Locator("#loss-chart circle")).ToHaveCountAsync(2 * 5);
            await Expect(page.Locator("#metrics")).ToContainTextAsync("Not evaluated yet");
            await Expect(page.Locator("#artifacts")).ToContainTextAsync("None yet");
            await host.PutAsync(Run.InTraining(liveId, epochsDone: 6));
            await Expect(page.Locator("#loss-chart circle")).ToHaveCountAsync(2 * 6);
            await Expect(page.Locator("#summary")).ToContainTextAsync($"6/{DemoRun.Epochs}");
            await ShotAsync("3-run-in-training.png", fullPage: true);

            // Cancelled from the page: POST /runs/{id}/cancel, through the bus to the coordinator, back in the status.
            page.Dialog += Accept;
            try
            {
                await page.Locator("#cancel-run").ClickAsync();
                await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Cancelled");
            }
            finally
            {
                page.Dialog -= Accept;
            }
            await Expect(page.Locator("#timeline .stage.failed")).ToHaveCountAsync(2);
            await Expect(page.Locator("#errors")).ToContainTextAsync("requested through the runs API");
            await Expect(page.Locator("#cancel-run")).ToHaveCountAsync(0);
            Assert.Equal(RunStage.Cancelled, (await host.GetAsync(liveId))!.Stage);
            await ShotAsync("4-run-cancelled.png", fullPage: true);

            // The list: newest submission first.
            await page.Locator("a[data-nav=runs]").ClickAsync();
            await Expect(page.Locator("#runs tbody tr")).ToHaveCountAsync(2);
            await Expect(page.Locator("#runs tbody tr").First).ToHaveAttributeAsync("data-run", liveId.ToString("D"));
            await Expect(page.Locator("#runs tbody tr").First).ToContainTextAsync("Cancelled");
            await ShotAsync("5-runs.png");
        }

        public async Task FailedRunAsync()
        {
            // A run whose training failed: the stage it stopped in is marked, its error shown, its time up to the failure drawn.
            var failedId = Guid.NewGuid();
            var training = Run.InTraining(failedId, epochsDone: 3);
            var failedAt = training.Timestamps.UpdatedAt;
            await host.PutAsync(training with
            {
                Name = "demo, failed",
                Stage = RunStage.Failed,
                Timestamps = training.Timestamps with { FinishedAt = failedAt },
                Errors = [new RunError(RunStage.Training, "Training failed: <b>not bold</b> NaN loss at epoch 4", "System.ArithmeticException", failedAt)],
            });
            await page.GotoAsync($"{host.Address.AbsoluteUri}#/runs/{failedId:D}");
            await Expect(page.Locator("#run-stage")).ToHaveTextAsync("Failed");
            await Expect(page.Locator("#timeline .stage.failed")).ToHaveCountAsync(2);
            await Expect(page.Locator("#timeline .stage.failed").First).ToHaveAttributeAsync("data-stage", "training");
            await Expect(page.Locator("#gantt > div")).ToHaveCountAsync(3);
            // Text from the run stays text.
            await Expect(page.Locator("#errors")).ToContainTextAsync("<b>not bold</b> NaN loss at epoch 4");
            await Expect(page.Locator("#errors b")).ToHaveCountAsync(0);
            await Expect(page.Locator("#errors")).ToContainTextAsync("System.ArithmeticException");
            await Expect(page.Locator("#cancel-run")).ToHaveCountAsync(0);
            await ShotAsync("6-run-failed.png", fullPage: true);
        }

        public async Task UnknownRunAsync()
        {
            var missing = Guid.NewGuid();
            ExpectedFailures.Add($"/runs/{missing:D}");
            await page.GotoAsync($"{host.Address.AbsoluteUri}#/runs/{missing:D}");
            await Expect(page.Locator(".notice.error")).ToContainTextAsync($"No run {missing:D}");
            await ShotAsync("7-unknown-run.png");
        }

        public async Task SweepAsync()
        {
            // A completed cross-validation sweep: listed with its mean ± sd, its folds linked to their runs, the per-fold
            // chart, and the model card merged over every fold's test speakers.
            await page.GotoAsync($"{host.Address.AbsoluteUri}#/sweeps");
            await Expect(page.Locator("#sweeps")).ToContainTextAsync("No sweeps yet");
            var sweep = await host.AddSweepAsync();
            var sweepId = sweep.Record.SweepId.ToString("D");
            var row = page.Locator($"#sweeps tr[data-sweep='{sweepId}']");
            var accuracies = sweep.Runs.Select(r => r.Evaluation!.Accuracy).ToList();
            var mean = accuracies.Average();
            var sd = Math.Sqrt(accuracies.Sum(a => (a - mean) * (a - mean)) / (accuracies.Count - 1));
            var meanSd = $"{Percent(mean)} ± {(sd * 100).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)}";
            await Expect(row).ToContainTextAsync("cv demo");
            await Expect(row).ToContainTextAsync("Completed");
            await Expect(row).ToContainTextAsync($"{DemoSweep.Folds}/{DemoSweep.Folds}");
            await Expect(row).ToContainTextAsync(meanSd);
            await ShotAsync("8-sweeps.png");

            await row.Locator("a").First.ClickAsync();
            await page.WaitForURLAsync($"**/#/sweeps/{sweepId}");
            await Expect(page.Locator("#sweep-stage")).ToHaveTextAsync("Completed");
            await Expect(page.Locator("#sweep-summary")).ToContainTextAsync(meanSd);
            await Expect(page.Locator("#sweep-folds tbody tr")).ToHaveCountAsync(DemoSweep.Folds);
            for (var fold = 1; fold <= DemoSweep.Folds; fold++)
            {
                await Expect(page.Locator($"#sweep-folds tr[data-fold='{fold}']")).ToContainTextAsync(Percent(accuracies[fold - 1]));
                await Expect(page.Locator($"#sweep-folds tr[data-fold='{fold}']")).ToContainTextAsync(DemoRun.Worker);
            }
            await Expect(page.Locator("#fold-chart rect[fill='#4c6ef5']")).ToHaveCountAsync(DemoSweep.Folds + 1); // + the legend's
            var card = ModelCard.FromJson(await host.Client.GetStringAsync($"/sweeps/{sweepId}/model_card.json"));
            Assert.Equal((sweep.Clips, 12), (card.Clips, card.Actors));
            await Expect(page.Locator("#sweep-model-card tbody tr")).ToHaveCountAsync(card.Groups.Count);
            await Expect(page.Locator("#model-card-gap")).ToContainTextAsync(card.LargestAccuracyGap is null ? "no gap can be measured" : "Largest accuracy gap");
            await ExpectImageLoadedAsync("#model-card-plot");
            await ShotAsync("9-sweep.png", fullPage: true);

            // A fold is an ordinary run, one click away, and says which fold it is.
            await page.Locator("#sweep-folds tr[data-fold='2'] a").ClickAsync();
            await page.WaitForURLAsync($"**/#/runs/{sweep.Runs[1].RunId:D}");
            await Expect(page.Locator("#summary")).ToContainTextAsync("fold 2 of 3");
        }

        public async Task UnauthorizedAsync()
        {
            // A tab without the key: the runs API answers 401 and the page asks for a key; a wrong one is refused, the
            // right one shows the runs.
            ExpectedFailures.Add("/runs?limit=");
            await page.EvaluateAsync("() => sessionStorage.clear()");
            await page.GotoAsync($"{host.Address.AbsoluteUri}#/runs");
            await page.ReloadAsync();
            await Expect(page.Locator("#key-form")).ToBeVisibleAsync();
            await Expect(page.Locator("#key-form")).ToContainTextAsync("needs an API key");
            await ShotAsync("10-key-needed.png");
            await page.Locator("#key-input").FillAsync(new string('x', 40));
            await page.Locator("#key-form button").ClickAsync();
            await Expect(page.Locator("#key-form")).ToContainTextAsync("refused this key");
            await ShotAsync("11-key-refused.png");
            await page.Locator("#key-input").FillAsync(RunsApiHost.ApiKey);
            await page.Locator("#key-form button").ClickAsync();
            await Expect(page.Locator($"#runs tr[data-run='{Run.RunId:D}']")).ToContainTextAsync("Completed");
        }

        private async Task ExpectImageLoadedAsync(string selector)
        {
            // The picture comes through fetch as an object URL: wait for it to be set and decoded.
            await page.WaitForFunctionAsync("s => { const i = document.querySelector(s); return !!i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }", selector);
            await Expect(page.Locator(selector)).ToBeVisibleAsync();
            Assert.True(await page.Locator(selector).EvaluateAsync<int>("i => i.naturalWidth") > 100, $"The image {selector} is too small to be the artefact.");
        }

        private static void Accept(object? sender, IDialog dialog) => _ = dialog.AcceptAsync();
    }

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}
