using CremaD.Cli;

namespace CremaD.RunsUi.Tests;

/// <summary><c>cremad runs …</c> against the real runs API: it sends the key the AppHost writes, and says why when refused.</summary>
public sealed class RunsCliTests : IAsyncLifetime
{
    private RunsApiHost _host = null!;
    private string _keyFile = null!;

    public async Task InitializeAsync()
    {
        _host = await RunsApiHost.StartAsync();
        _keyFile = Path.Combine(_host.Directory, "runs-api.key");
        await File.WriteAllTextAsync(_keyFile, RunsApiHost.ApiKey + "\n");
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await CremaDCommandLine.InvokeAsync(args, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Lists_shows_and_downloads_a_run_with_the_key_file()
    {
        var api = _host.Address.AbsoluteUri;
        var runId = _host.Run.RunId.ToString("D");

        var (listed, list, listError) = await RunAsync("runs", "list", "--api", api, "--api-key-file", _keyFile);
        Assert.True(listed == 0, listError);
        Assert.Contains(runId, list, StringComparison.Ordinal);
        Assert.Contains("completed", list, StringComparison.Ordinal);

        var (shown, show, _) = await RunAsync("runs", "show", runId, "--api", api, "--api-key-file", _keyFile);
        Assert.Equal(0, shown);
        Assert.Contains($"\"runId\": \"{runId}\"", show, StringComparison.Ordinal);

        var target = Path.Combine(_host.Directory, "downloaded");
        var (downloaded, _, downloadError) = await RunAsync("runs", "download", runId, "--out", target, "--api", api, "--api-key-file", _keyFile);
        Assert.True(downloaded == 0, downloadError);
        foreach (var artifact in _host.Run.Status.Artifacts)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(_host.Run.ArtifactsDirectory, artifact.Name)),
                await File.ReadAllBytesAsync(Path.Combine(target, artifact.Name)));
        }
    }

    [Fact]
    public async Task Without_a_key_or_with_a_wrong_one_it_fails_in_one_line_saying_why()
    {
        var api = _host.Address.AbsoluteUri;
        var (none, _, noneError) = await RunAsync("runs", "list", "--api", api);
        Assert.NotEqual(0, none);
        Assert.Contains("no API key given", noneError, StringComparison.Ordinal);

        var wrongKey = Path.Combine(_host.Directory, "wrong.key");
        await File.WriteAllTextAsync(wrongKey, new string('w', 48));
        var (wrong, _, wrongError) = await RunAsync("runs", "list", "--api", api, "--api-key-file", wrongKey);
        Assert.NotEqual(0, wrong);
        Assert.Contains("answered 401", wrongError, StringComparison.Ordinal);
        Assert.Contains("The API key is not valid", wrongError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", wrongError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sweeps_lists_the_newest_sweeps_with_their_folds_and_statistics()
    {
        var api = _host.Address.AbsoluteUri;
        var sweep = await _host.AddSweepAsync();
        var (code, output, error) = await RunAsync("runs", "sweeps", "--api", api, "--api-key-file", _keyFile);
        Assert.True(code == 0, error);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith(sweep.Record.SweepId.ToString("D"), StringComparison.Ordinal));
        var accuracies = sweep.Runs.Select(r => r.Evaluation!.Accuracy).ToList();
        Assert.Contains("completed", line, StringComparison.Ordinal);
        Assert.Contains("3/3", line, StringComparison.Ordinal);
        Assert.Contains((100 * accuracies.Average()).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + " ± ", line, StringComparison.Ordinal);
        Assert.EndsWith("cv demo", line.TrimEnd(), StringComparison.Ordinal);

        var (bad, _, badError) = await RunAsync("runs", "sweeps", "--limit", "0", "--api", api, "--api-key-file", _keyFile);
        Assert.NotEqual(0, bad);
        Assert.Contains("limit must be in [1, 100]", badError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sweep_submits_one_run_per_fold_each_named_after_its_fold()
    {
        var api = _host.Address.AbsoluteUri;
        var (code, output, error) = await RunAsync("runs", "sweep", "--dataset", "demo", "--folds", "3", "--epochs", "2", "--model", "seed",
            "--name", "cli sweep", "--api", api, "--api-key-file", _keyFile);
        Assert.True(code == 0, error);
        var sweepId = Guid.Parse(output.Trim());

        using var http = new HttpClient { BaseAddress = _host.Address };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", RunsApiHost.ApiKey);
        using var sweep = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"sweeps/{sweepId:D}"));
        var folds = sweep.RootElement.GetProperty("foldRuns").EnumerateArray().ToList();
        Assert.Equal([1, 2, 3], folds.Select(f => f.GetProperty("fold").GetInt32()));
        Assert.Equal("seed", sweep.RootElement.GetProperty("config").GetProperty("model").GetString());
        foreach (var fold in folds)
        {
            // Exit code 1 only says the fold's run failed: this host runs no feature service, so a fold may fail at once.
            var (_, show, _) = await RunAsync("runs", "show", fold.GetProperty("runId").GetString()!, "--api", api, "--api-key-file", _keyFile);
            Assert.Contains($"cli sweep (fold {fold.GetProperty("fold").GetInt32()} of 3)", show, StringComparison.Ordinal);
        }

        var (bad, _, badError) = await RunAsync("runs", "sweep", "--dataset", "demo", "--folds", "2", "--api", api, "--api-key-file", _keyFile);
        Assert.NotEqual(0, bad);
        Assert.Contains("folds must be in 3..30", badError, StringComparison.Ordinal);
    }
}
