using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>
/// One model in a comparison: a named training recipe (a <see cref="ModelName"/> plus the changes of an ablation), or
/// the linear baseline. Names: "seed", "statpool", "attentive" (statpool with attentive pooling), "statpool-no-specaugment",
/// "seed-mean-std" is the same as statpool and so not offered; "baseline" (logistic regression, deterministic: one fit).
/// </summary>
public sealed record ComparisonVariant(string Name, string Description, Func<TrainingOptions, TrainingOptions>? Recipe)
{
    public bool IsBaseline => Recipe is null;

    public static ComparisonVariant Baseline { get; } =
        new("baseline", "logistic regression on per-band log-mel mean and std (deterministic: one fit)", null);

    /// <summary>Every variant by name, in the order a table lists them.</summary>
    public static IReadOnlyList<ComparisonVariant> All { get; } =
    [
        new("seed", "the seed's model and recipe (last hidden states)", o => o with { Model = ModelName.Seed, Pooling = null }),
        new("statpool", "the default: the seed's recipe with mean+std pooling over every frame", o => o with { Model = ModelName.StatPool, Pooling = null }),
        new("attentive", "statpool with attentive statistics pooling", o => o with { Model = ModelName.StatPool, Pooling = SummaryPooling.Attentive }),
        new("statpool-no-specaugment", "statpool without SpecAugment", o => o with { Model = ModelName.StatPool, Pooling = null, UseSpecAugment = false }),
        Baseline,
    ];

    public static ComparisonVariant Parse(string name) =>
        All.FirstOrDefault(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown variant '{name}' (one of {string.Join(", ", All.Select(v => v.Name))})");
}

/// <summary>One trained (or fitted) model's test result.</summary>
public sealed record ComparisonRun(
    string Store,
    string Variant,
    int Seed,
    double TestAccuracy,
    double MacroF1,
    int EpochsRun,
    int BestEpoch,
    double MedianEpochSeconds,
    double TrainSeconds,
    int Threads);

/// <summary>Mean and (sample) standard deviation of one variant's runs on one store.</summary>
public sealed record ComparisonRow(
    string Store,
    string Variant,
    int Runs,
    double AccuracyMean,
    double AccuracySd,
    double MacroF1Mean,
    double MacroF1Sd,
    double MedianEpochSeconds,
    double? EpochTimeRatioToSeed,
    double? MacroF1GainOverSeed,
    double? MacroF1GainOverBaseline,
    IReadOnlyList<double> Accuracies,
    IReadOnlyList<double> MacroF1s);

public sealed record ComparisonOptions(
    IReadOnlyList<string> FeatureStores,
    IReadOnlyList<ComparisonVariant> Variants,
    IReadOnlyList<int> Seeds,
    int Epochs,
    string OutputDirectory,
    TrainingOptions BaseOptions);

/// <summary>
/// The model comparison behind <c>cremad benchmark models</c>: every variant × seed trained on every feature store,
/// each evaluated on its store's test partition; then mean ± sd per variant, the per-epoch time against the seed's,
/// and the macro-F1 gain over the seed. Every run keeps its model directory under the output folder and its result in
/// <see cref="RunFile"/>: a comparison that is stopped and started again skips the runs already done (a run stopped
/// mid-training continues from its last checkpoint).
/// </summary>
public static class ModelComparison
{
    public const string RunFile = "comparison_run.json";
    public const string ResultJson = "models_benchmark.json";
    public const string ResultMarkdown = "models_benchmark.md";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>A short name for a store in tables and folders: its folder name.</summary>
    public static string StoreLabel(string storeDirectory) => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(storeDirectory)));

    public static IReadOnlyList<ComparisonRun> Run(ComparisonOptions options, Action<string> report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var runs = new List<ComparisonRun>();
        foreach (var storeDirectory in options.FeatureStores)
        {
            var store = FeatureStore.Open(storeDirectory);
            var label = StoreLabel(storeDirectory);
            foreach (var variant in options.Variants)
            {
                foreach (var seed in variant.IsBaseline ? options.Seeds.Take(1) : options.Seeds)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var directory = Path.Combine(options.OutputDirectory, label, variant.Name, variant.IsBaseline ? "fit" : $"seed-{seed}");
                    var resultPath = Path.Combine(directory, RunFile);
                    if (File.Exists(resultPath))
                    {
                        var done = JsonSerializer.Deserialize<ComparisonRun>(File.ReadAllText(resultPath), Json)!;
                        report(Describe(done) + " (done before)");
                        runs.Add(done);
                        continue;
                    }
                    var run = variant.IsBaseline
                        ? FitBaseline(store, label, directory)
                        : Train(store, label, variant, seed, directory, options, report, cancellationToken);
                    AtomicFile.WriteAllText(resultPath, JsonSerializer.Serialize(run, Json));
                    report(Describe(run));
                    runs.Add(run);
                }
            }
        }
        return runs;
    }

    private static ComparisonRun FitBaseline(FeatureStore store, string label, string directory)
    {
        Directory.CreateDirectory(directory);
        var fit = LinearBaseline.Fit(store, Emotions.Names);
        fit.TestReport.Save(Path.Combine(directory, CremaD.Evaluation.ArtifactNames.ClassificationReport));
        var test = fit.Scores.Single(s => s.Partition == Partition.Test.ToName());
        return new ComparisonRun(label, ComparisonVariant.Baseline.Name, 0, test.Accuracy, test.MacroF1, 0, 0, 0, fit.Seconds, 1);
    }

    private static ComparisonRun Train(FeatureStore store, string label, ComparisonVariant variant, int seed, string directory,
        ComparisonOptions options, Action<string> report, CancellationToken cancellationToken)
    {
        var recipe = variant.Recipe!(options.BaseOptions with { Seed = seed, Epochs = options.Epochs });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = TrainingStage.Run(store, directory, recipe, resume: true, new EpochReporter($"{label} {variant.Name} seed {seed}", report), cancellationToken);
        var trainSeconds = clock.Elapsed.TotalSeconds;
        var evaluation = EvaluationStage.Run(directory, store, Path.Combine(directory, "test"), Partition.Test, recipe.Device, recipe.Threads,
            cancellationToken);
        var seconds = result.History.Select(r => r.Seconds).Order().ToArray();
        return new ComparisonRun(label, variant.Name, seed, evaluation.Summary.Metrics.Accuracy, evaluation.Summary.Metrics.MacroF1, result.EpochsRun,
            result.BestEpoch, seconds.Length == 0 ? 0 : Median(seconds), trainSeconds, result.Threads);
    }

    private sealed class EpochReporter(string prefix, Action<string> report) : ITrainingObserver
    {
        public void OnEpochCompleted(EpochProgress progress) => report(string.Create(CultureInfo.InvariantCulture,
            $"  {prefix}: epoch {progress.Record.Epoch}, val acc {100 * progress.Record.ValidationAccuracy:F1} %, {progress.Record.Seconds:F1} s"));
    }

    private static string Describe(ComparisonRun run)
    {
        var seed = run.Variant == ComparisonVariant.Baseline.Name ? "" : I($" seed {run.Seed}");
        var epochs = run.EpochsRun > 0 ? I($", {run.EpochsRun} epochs at {run.MedianEpochSeconds:F1} s (median)") : "";
        return I($"{run.Store} {run.Variant}{seed}: test accuracy {100 * run.TestAccuracy:F1} %, macro-F1 {run.MacroF1:F3}{epochs}");
    }

    private static string I(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>One row per store and variant, in the order the runs came.</summary>
    public static IReadOnlyList<ComparisonRow> Summarise(IReadOnlyList<ComparisonRun> runs)
    {
        var rows = new List<ComparisonRow>();
        foreach (var store in runs.Select(r => r.Store).Distinct())
        {
            var ofStore = runs.Where(r => r.Store == store).ToList();
            var seed = ofStore.Where(r => r.Variant == "seed").ToList();
            double? seedEpoch = seed.Count > 0 ? Median(seed.Select(r => r.MedianEpochSeconds).Order().ToArray()) : null;
            double? seedF1 = seed.Count > 0 ? seed.Average(r => r.MacroF1) : null;
            double? baselineF1 = ofStore.Where(r => r.Variant == ComparisonVariant.Baseline.Name).Select(r => (double?)r.MacroF1).FirstOrDefault();
            foreach (var variant in ofStore.Select(r => r.Variant).Distinct())
            {
                var group = ofStore.Where(r => r.Variant == variant).ToList();
                var accuracies = group.Select(r => r.TestAccuracy).ToArray();
                var f1s = group.Select(r => r.MacroF1).ToArray();
                var epoch = group[0].EpochsRun > 0 ? Median(group.Select(r => r.MedianEpochSeconds).Order().ToArray()) : 0;
                rows.Add(new ComparisonRow(store, variant, group.Count, accuracies.Average(), StandardDeviation(accuracies), f1s.Average(),
                    StandardDeviation(f1s), epoch, seedEpoch is > 0 && epoch > 0 ? epoch / seedEpoch : null,
                    seedF1 is { } f && variant != "seed" ? f1s.Average() - f : null,
                    baselineF1 is { } b && variant != ComparisonVariant.Baseline.Name ? f1s.Average() - b : null, accuracies, f1s));
            }
        }
        return rows;
    }

    /// <summary>The table the README shows: accuracy and macro-F1 as mean ± sd (percent and points), seconds per epoch and its ratio to the seed's.</summary>
    public static string Markdown(IReadOnlyList<ComparisonRow> rows, ComparisonOptions options)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Seeds {string.Join(", ", options.Seeds)}; at most {options.Epochs} epochs; test partition; mean ± sample sd."));
        text.AppendLine();
        text.AppendLine("| corpus | model | runs | test accuracy | macro-F1 | macro-F1 vs seed | vs baseline | s / epoch | vs seed's |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var row in rows)
        {
            var gain = row.MacroF1GainOverSeed is { } g ? I($"{100 * g:+0.0;-0.0} points") : "";
            var overBaseline = row.MacroF1GainOverBaseline is { } gb ? I($"{100 * gb:+0.0;-0.0} points") : "";
            var epoch = row.MedianEpochSeconds > 0 ? I($"{row.MedianEpochSeconds:F1}") : "";
            var ratio = row.EpochTimeRatioToSeed is { } r ? I($"{r:F2}x") : "";
            text.AppendLine(I($"| {row.Store} | {row.Variant} | {row.Runs} | {100 * row.AccuracyMean:F1} ± {100 * row.AccuracySd:F1} % | {row.MacroF1Mean:F3} ± {row.MacroF1Sd:F3} | {gain} | {overBaseline} | {epoch} | {ratio} |"));
        }
        return text.ToString();
    }

    public static void Write(IReadOnlyList<ComparisonRun> runs, ComparisonOptions options)
    {
        var rows = Summarise(runs);
        Directory.CreateDirectory(options.OutputDirectory);
        AtomicFile.WriteAllText(Path.Combine(options.OutputDirectory, ResultJson), JsonSerializer.Serialize(new
        {
            seeds = options.Seeds,
            epochs = options.Epochs,
            feature_stores = options.FeatureStores,
            recipe = ModelFiles.RecipeJson(options.BaseOptions),
            rows,
            runs,
        }, Json));
        AtomicFile.WriteAllText(Path.Combine(options.OutputDirectory, ResultMarkdown), Markdown(rows, options));
    }

    private static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;

    private static double StandardDeviation(double[] values)
    {
        if (values.Length < 2) return 0;
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
