using System.Buffers.Binary;
using System.Text.Json;
using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Cli.Tests;

/// <summary>
/// The whole path through the CLI on the built-in demo dataset (real WAV files): `run`, then `evaluate` and `predict`
/// on what it produced. A small model and few epochs keep it quick; the recipe is otherwise the real one.
/// </summary>
public sealed class RunCommandTests : IClassFixture<RunCommandTests.DemoRun>
{
    /// <summary>One `cremad run` shared by the tests of this class.</summary>
    public sealed class DemoRun : IAsyncLifetime
    {
        public TempDir Dir { get; } = new();
        public string Output => Dir["run"];
        public int ExitCode { get; private set; }
        public string Stdout { get; private set; } = "";
        public string Stderr { get; private set; } = "";

        public async Task InitializeAsync()
        {
            (ExitCode, Stdout, Stderr) = await Cremad.RunAsync("run", "--output-dir", Output,
                "--epochs", "2", "--hidden-size", "16", "--batch-size", "16", "--threads", "1");
        }

        public Task DisposeAsync()
        {
            Dir.Dispose();
            return Task.CompletedTask;
        }
    }

    private readonly DemoRun run;

    public RunCommandTests(DemoRun run) => this.run = run;

    [Fact]
    public void Run_without_data_root_uses_the_demo_and_writes_every_artifact()
    {
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("built-in demo dataset", run.Stdout);
        foreach (var name in new[] { "best_model", "model.json", "last_checkpoint", "history.json", "training_curves.png", "confusion_matrix.png",
                     "classification_report.json", "test_metrics.json", "test_predictions.csv", "run.json", "model_card.json", "model_card.md", "model_card.png" })
        {
            Assert.True(File.Exists(Path.Combine(run.Output, name)), $"missing {name}");
        }

        using var history = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Output, "history.json")));
        Assert.Equal(2, history.RootElement.GetArrayLength());

        // The default model, named in model.json.
        using var model = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Output, "model.json")));
        Assert.Equal("statpool", model.RootElement.GetProperty("model_name").GetString());
        Assert.Equal("mean-std", model.RootElement.GetProperty("model").GetProperty("pooling").GetString());

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Output, "classification_report.json")));
        var keys = report.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["anger", "disgust", "fear", "happy", "neutral", "sad", "accuracy", "macro avg", "weighted avg"], keys);
        var demoTest = File.ReadAllLines(Path.Combine(Repo.Demo, "labels.csv")).Count(l => l.TrimEnd().EndsWith(",test", StringComparison.Ordinal));
        Assert.Equal(demoTest, report.RootElement.GetProperty("macro avg").GetProperty("support").GetInt32());

        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Output, "run.json")));
        Assert.Equal(64, manifest.RootElement.GetProperty("dataset").GetProperty("fingerprint").GetString()!.Length);
        Assert.Equal(2, manifest.RootElement.GetProperty("results").GetProperty("epochs_run").GetInt32());
        Assert.Equal(16, manifest.RootElement.GetProperty("training").GetProperty("hidden_size").GetInt32());

        // The model card covers every test clip, its speakers matched to CREMA-D's demographics, and quotes the recipe.
        using var card = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Output, "model_card.json")));
        Assert.Equal(demoTest, card.RootElement.GetProperty("clips").GetInt32());
        Assert.Equal(0, card.RootElement.GetProperty("clips_without_demographics").GetInt32());
        Assert.Equal(manifest.RootElement.GetProperty("dataset").GetProperty("fingerprint").GetString(),
            card.RootElement.GetProperty("subject").GetProperty("dataset_fingerprint").GetString());
        Assert.Equal(16, card.RootElement.GetProperty("subject").GetProperty("recipe").GetProperty("hidden_size").GetInt32());
        var sexes = card.RootElement.GetProperty("groups").EnumerateArray().Where(g => g.GetProperty("attribute").GetString() == "sex").ToList();
        Assert.Equal(demoTest, sexes.Sum(g => g.GetProperty("clips").GetInt32()));
        Assert.Contains("# Model card", File.ReadAllText(Path.Combine(run.Output, "model_card.md")));
        Assert.Equal("acted", manifest.RootElement.GetProperty("dataset").GetProperty("labels_from").GetString());
    }

    [Theory]
    [InlineData("training_curves.png", 1200, 500)]
    [InlineData("confusion_matrix.png", 800, 700)]
    public void Plots_are_pngs_of_the_expected_size(string name, int width, int height)
    {
        var bytes = File.ReadAllBytes(Path.Combine(run.Output, name));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    [Fact]
    public async Task Evaluate_reproduces_the_run_report()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = await Cremad.RunAsync("evaluate", "--model-dir", run.Output,
            "--features-dir", Path.Combine(run.Output, "features"), "--output-dir", dir.Path);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal(File.ReadAllText(Path.Combine(run.Output, "classification_report.json")),
            File.ReadAllText(Path.Combine(dir.Path, "classification_report.json")));
        Assert.True(File.Exists(Path.Combine(dir.Path, "training_curves.png")));
    }

    [Fact]
    public async Task Predict_gives_the_trained_models_answer_and_reports_bad_files_without_losing_the_rest()
    {
        var store = FeatureStore.Open(Path.Combine(run.Output, "features"));
        var trainClip = store.Entries(Partition.Train)[0];
        float[] expected;
        using (var predictor = Predictor.Load(run.Output, DeviceChoice.Cpu))
        {
            expected = predictor.PredictProbabilities([store.Load(trainClip)])[0];
        }
        var wav = Path.Combine(store.Metadata.DataRoot, trainClip.Path);
        var bad = Repo.Fixture("bad-audio", "garbage.wav");

        var (code, stdout, stderr) = await Cremad.RunAsync("predict", wav, bad, "--model-dir", run.Output, "--json");

        Assert.Equal(1, code);
        Assert.Equal("", stderr);
        using var json = JsonDocument.Parse(stdout);
        var results = json.RootElement.EnumerateArray().ToArray();
        Assert.Equal(2, results.Length);
        var predicted = results[0].GetProperty("emotion").GetString();
        Assert.Equal(Emotions.Codes[Predictor.ArgMax(expected)], predicted);
        var probabilities = results[0].GetProperty("probabilities");
        for (var c = 0; c < Emotions.Count; c++)
        {
            Assert.Equal(expected[c], probabilities.GetProperty(Emotions.Codes[c]).GetDouble(), 5);
        }
        Assert.Contains("garbage.wav", results[1].GetProperty("error").GetString());
        Assert.Contains("not a RIFF/WAVE file", results[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Train_on_a_missing_feature_store_fails_with_one_line()
    {
        using var dir = new TempDir();
        var (code, _, stderr) = await Cremad.RunAsync("train", "--features-dir", dir["nowhere"], "--output-dir", dir["out"]);
        Assert.Equal(1, code);
        Assert.Contains("not a complete feature store", stderr);
    }

    [Fact]
    public async Task Baseline_scores_the_demo_store_and_writes_its_metrics()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = await Cremad.RunAsync("baseline", "--features-dir", Path.Combine(run.Output, "features"), "--output-dir", dir["baseline"]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("baseline test", stdout);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["baseline"], "baseline_metrics.json")));
        var scores = metrics.RootElement.GetProperty("scores").EnumerateArray().ToList();
        Assert.Equal(["train", "validation", "test"], scores.Select(s => s.GetProperty("partition").GetString()));
        Assert.All(scores, s => Assert.InRange(s.GetProperty("accuracy").GetDouble(), 0, 1));
        Assert.True(File.Exists(Path.Combine(dir["baseline"], "classification_report.json")));

        var (badCode, _, badError) = await Cremad.RunAsync("baseline", "--features-dir", Path.Combine(run.Output, "features"), "--c", "0");
        Assert.Equal(1, badCode);
        Assert.Contains("--c must be in (0, 1e6]", badError);
    }

    [Fact]
    public async Task Benchmark_models_compares_the_seed_statpool_and_the_baseline_and_a_rerun_skips_finished_runs()
    {
        using var dir = new TempDir();
        var features = Path.Combine(run.Output, "features");
        string[] arguments = ["benchmark", "models", "-f", features, "-o", dir["compare"], "--epochs", "1", "--seeds", "1,2",
            "--variants", "seed,statpool,baseline", "--hidden-size", "8", "--threads", "1"];
        var (code, stdout, stderr) = await Cremad.RunAsync(arguments);
        Assert.True(code == 0, stdout + stderr);

        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["compare"], "models_benchmark.json")));
        var runs = result.RootElement.GetProperty("runs").EnumerateArray().ToList();
        // Two seeds of each trained model, one fit of the deterministic baseline.
        Assert.Equal(["seed", "seed", "statpool", "statpool", "baseline"], runs.Select(r => r.GetProperty("variant").GetString()));
        Assert.All(runs, r => Assert.InRange(r.GetProperty("test_accuracy").GetDouble(), 0, 1));
        var rows = result.RootElement.GetProperty("rows").EnumerateArray().ToDictionary(r => r.GetProperty("variant").GetString()!);
        var seedRuns = runs.Where(r => r.GetProperty("variant").GetString() == "seed").Select(r => r.GetProperty("macro_f1").GetDouble()).ToArray();
        Assert.Equal(seedRuns.Average(), rows["seed"].GetProperty("macro_f1_mean").GetDouble(), 9);
        Assert.Equal(Math.Abs(seedRuns[0] - seedRuns[1]) / Math.Sqrt(2), rows["seed"].GetProperty("macro_f1_sd").GetDouble(), 9);
        Assert.Equal(rows["statpool"].GetProperty("macro_f1_mean").GetDouble() - seedRuns.Average(),
            rows["statpool"].GetProperty("macro_f1_gain_over_seed").GetDouble(), 9);
        // Each trained run is a complete model directory, named after its model.
        using var model = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["compare"], "features", "seed", "seed-2", "model.json")));
        Assert.Equal("seed", model.RootElement.GetProperty("model_name").GetString());
        var table = File.ReadAllText(Path.Combine(dir["compare"], "models_benchmark.md"));
        Assert.Contains("| features | statpool | 2 |", table);
        Assert.Contains("| features | baseline | 1 |", table);

        // Run again: nothing is trained twice, and the table is the same.
        var (again, againOut, againErr) = await Cremad.RunAsync(arguments);
        Assert.True(again == 0, againOut + againErr);
        Assert.Equal(5, againOut.Split('\n').Count(l => l.EndsWith("(done before)", StringComparison.Ordinal)));
        Assert.DoesNotContain("epoch 1,", againOut);
        Assert.Equal(table, File.ReadAllText(Path.Combine(dir["compare"], "models_benchmark.md")));

        var (bad, _, badError) = await Cremad.RunAsync("benchmark", "models", "-f", features, "-o", dir["bad"], "--variants", "seed,lstm");
        Assert.Equal(1, bad);
        Assert.Contains("unknown variant 'lstm'", badError);
    }

    [Fact]
    public async Task Cv_tests_every_speaker_once_in_sex_balanced_folds_merges_the_model_cards_and_resumes()
    {
        using var dir = new TempDir();
        var features = Path.Combine(run.Output, "features");
        string[] arguments = ["cv", "-f", features, "-o", dir["cv"], "--folds", "3", "--epochs", "1", "--hidden-size", "8", "--threads", "1"];
        var (code, stdout, stderr) = await Cremad.RunAsync(arguments);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("cross-validation: accuracy", stdout);

        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["cv"], "cv_results.json")));
        var folds = result.RootElement.GetProperty("folds").EnumerateArray().ToList();
        Assert.Equal(3, folds.Count);
        var testActors = folds.SelectMany(f => f.GetProperty("test_actors").EnumerateArray().Select(a => a.GetString()!)).ToList();
        var storeClips = CremaD.Datasets.FeatureStore.Open(features).Clips;
        var actors = storeClips.Select(c => CremaD.Datasets.CremaDFileName.ActorOf(c.Id)!).Distinct().Order().ToList();
        // Every speaker is tested exactly once, and every clip is predicted exactly once.
        Assert.Equal(actors, testActors.Order());
        Assert.Equal(storeClips.Count, folds.Sum(f => f.GetProperty("test_clips").GetInt32()));
        // A fold never trains or stops early on its test speakers.
        foreach (var fold in folds)
        {
            var test = fold.GetProperty("test_actors").EnumerateArray().Select(a => a.GetString()).ToHashSet();
            Assert.DoesNotContain(fold.GetProperty("validation_actors").EnumerateArray().Select(a => a.GetString()), test.Contains);
        }
        var mean = folds.Average(f => f.GetProperty("macro_f1").GetDouble());
        Assert.Equal(mean, result.RootElement.GetProperty("macro_f1_mean").GetDouble(), 9);

        // The merged model card covers every clip; each fold has its own.
        using var merged = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["cv"], "model_card.json")));
        Assert.Equal(storeClips.Count, merged.RootElement.GetProperty("clips").GetInt32());
        foreach (var name in new[] { "model_card.md", "model_card.png", "classification_report.json", "confusion_matrix.png", "cv_results.md",
                     "fold-1/best_model", "fold-1/model.json", "fold-3/test/model_card.json" })
        {
            Assert.True(File.Exists(Path.Combine(dir["cv"], name)), $"missing {name}");
        }

        // Again: no fold is trained twice, and the result is the same.
        var (again, againOut, againErr) = await Cremad.RunAsync(arguments);
        Assert.True(again == 0, againOut + againErr);
        Assert.Equal(3, againOut.Split('\n').Count(l => l.EndsWith("(done before)", StringComparison.Ordinal)));
        using var second = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["cv"], "cv_results.json")));
        Assert.Equal(mean, second.RootElement.GetProperty("macro_f1_mean").GetDouble(), 12);

        var (bad, _, badError) = await Cremad.RunAsync("cv", "-f", features, "-o", dir["bad"], "--folds", "2");
        Assert.Equal(1, bad);
        Assert.Contains("--folds must be in 3..30", badError);
        var (tooMany, _, tooManyError) = await Cremad.RunAsync("cv", "-f", features, "-o", dir["bad"], "--folds", "7", "--epochs", "1");
        Assert.Equal(1, tooMany);
        Assert.Contains("7 folds need at least 7 actors", tooManyError);
    }
}
