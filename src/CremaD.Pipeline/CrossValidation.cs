using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>One fold's result: its speakers, clip counts and test scores.</summary>
public sealed record CrossValidationFold(
    int Fold,
    IReadOnlyList<string> TestActors,
    IReadOnlyList<string> ValidationActors,
    int TrainClips,
    int ValidationClips,
    int TestClips,
    double TestAccuracy,
    double MacroF1,
    int BestEpoch,
    int EpochsRun,
    IReadOnlyList<string> TestIds,
    IReadOnlyList<int> TestLabels,
    IReadOnlyList<int> TestPredicted);

public sealed record CrossValidationResult(
    int Folds,
    int FoldSeed,
    IReadOnlyList<CrossValidationFold> FoldResults,
    double AccuracyMean,
    double AccuracySd,
    double MacroF1Mean,
    double MacroF1Sd,
    double PooledAccuracy,
    double PooledMacroF1,
    ModelCard MergedModelCard);

/// <summary>
/// Speaker-independent k-fold cross-validation on a feature store (<c>cremad cv</c>): the store's clips, whatever
/// partition they were extracted into, are regrouped by actor (<see cref="ActorFolds"/>). Fold k tests on the actors of
/// fold k, stops early on those of fold k+1 (mod K), and trains on the rest, with normalisation from its own train
/// clips. Each fold's model, evaluation and model card go to <c>fold-N/</c>; the merged result — every clip predicted
/// once, by the model that never heard its speaker — goes to the output folder: classification report, confusion
/// matrix, model card, and <see cref="ResultJson"/> / <see cref="ResultMarkdown"/> with the per-fold table and mean ± sd.
/// A fold already finished is not trained again; one stopped mid-training continues from its checkpoint.
/// </summary>
public static class CrossValidation
{
    public const string FoldFile = "cv_fold.json";
    public const string ResultJson = "cv_results.json";
    public const string ResultMarkdown = "cv_results.md";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static CrossValidationResult Run(FeatureStore store, int folds, int foldSeed, TrainingOptions options, string outputDirectory,
        Action<string> report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var clips = store.Load(store.Clips);
        var actorOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var clip in clips)
        {
            actorOf[clip.Id] = clip.Actor ?? CremaDFileName.ActorOf(clip.Id)
                ?? throw new InvalidDataException($"{store.Directory}: clip '{clip.Id}' has no speaker (no actor column, not a CREMA-D file name); speaker-independent folds need every clip's actor.");
        }
        var assignment = ActorFolds.Assign(actorOf.Values, folds, foldSeed);
        var foldOfActor = ActorFolds.FoldOfActor(assignment);
        var classNames = ClassNames.ForModel;
        var displayNames = ClassNames.ForDisplay(classNames);

        var results = new List<CrossValidationFold>();
        for (var k = 0; k < folds; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var directory = Path.Combine(outputDirectory, $"fold-{k + 1}");
            var resultPath = Path.Combine(directory, FoldFile);
            if (File.Exists(resultPath))
            {
                var done = JsonSerializer.Deserialize<CrossValidationFold>(File.ReadAllText(resultPath), Json)!;
                report(Describe(done, folds) + " (done before)");
                results.Add(done);
                continue;
            }
            // The same rule as a dataset read for a sweep's fold (FoldSplit): fold k tests, fold k+1 validates, the rest train.
            var split = new FoldSplit(k, folds, foldSeed);
            var validationFold = (k + 1) % folds;
            var byPartition = clips.ToLookup(c => split.PartitionOf(foldOfActor[actorOf[c.Id]]));
            var test = byPartition[Partition.Test].ToList();
            var validation = byPartition[Partition.Validation].ToList();
            var train = byPartition[Partition.Train].ToList();
            var accumulator = new NormalisationAccumulator();
            foreach (var clip in train) accumulator.AddClip(clip.Data, clip.Frames);
            var data = new TrainingData(train, validation, accumulator.ToNormalisation(), classNames);

            var observer = new FoldReporter($"fold {k + 1}/{folds}", report);
            var training = Trainer.HasCheckpoint(directory)
                ? Trainer.Resume(data, directory, observer, cancellationToken, options.Device, options.Threads)
                : Trainer.Train(data, options, directory, observer, cancellationToken);
            PartitionPredictions predictions;
            ModelManifest manifest;
            using (var predictor = Predictor.Load(directory, options.Device, options.Threads))
            {
                predictions = predictor.Evaluate(test, cancellationToken: cancellationToken);
                manifest = predictor.Manifest;
            }
            var evaluation = Path.Combine(directory, "test");
            var summary = EvaluationArtifacts.Write(evaluation, predictions.Labels, predictions.Predicted, displayNames);
            ModelCardArtifacts.Write(evaluation, Card(manifest, store, $"fold {k + 1} of {folds} (its test speakers)", predictions.Ids,
                predictions.Labels, predictions.Predicted, actorOf, displayNames));
            var fold = new CrossValidationFold(k + 1, assignment[k], assignment[validationFold], train.Count, validation.Count, test.Count,
                summary.Metrics.Accuracy, summary.Metrics.MacroF1, training.BestEpoch, training.EpochsRun, predictions.Ids, predictions.Labels,
                predictions.Predicted);
            AtomicFile.WriteAllText(resultPath, JsonSerializer.Serialize(fold, Json));
            report(Describe(fold, folds));
            results.Add(fold);
        }

        // Every clip once, predicted by the fold model that did not train or stop on its speaker.
        var ids = results.SelectMany(f => f.TestIds).ToList();
        var labels = results.SelectMany(f => f.TestLabels).ToList();
        var predicted = results.SelectMany(f => f.TestPredicted).ToList();
        var pooled = EvaluationArtifacts.Write(outputDirectory, labels, predicted, displayNames);
        var firstManifest = ModelManifest.Read(Path.Combine(outputDirectory, "fold-1", ModelFiles.Manifest));
        var merged = Card(firstManifest, store, $"all {folds} folds' test speakers (each clip predicted by the fold model that never heard its speaker)",
            ids, labels, predicted, actorOf, displayNames);
        ModelCardArtifacts.Write(outputDirectory, merged);
        var accuracies = results.Select(f => f.TestAccuracy).ToArray();
        var f1s = results.Select(f => f.MacroF1).ToArray();
        var result = new CrossValidationResult(folds, foldSeed, results, accuracies.Average(), Sd(accuracies), f1s.Average(), Sd(f1s),
            pooled.Metrics.Accuracy, pooled.Metrics.MacroF1, merged);
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, ResultJson), JsonSerializer.Serialize(new
        {
            fold_count = result.Folds,
            fold_seed = result.FoldSeed,
            store = store.Directory,
            dataset_fingerprint = store.Metadata.DatasetFingerprint,
            recipe = ModelFiles.RecipeJson(options),
            accuracy_mean = result.AccuracyMean,
            accuracy_sd = result.AccuracySd,
            macro_f1_mean = result.MacroF1Mean,
            macro_f1_sd = result.MacroF1Sd,
            pooled_accuracy = result.PooledAccuracy,
            pooled_macro_f1 = result.PooledMacroF1,
            folds = results.Select(f => new
            {
                fold = f.Fold, test_actors = f.TestActors, validation_actors = f.ValidationActors, train_clips = f.TrainClips,
                validation_clips = f.ValidationClips, test_clips = f.TestClips, test_accuracy = f.TestAccuracy, macro_f1 = f.MacroF1,
                best_epoch = f.BestEpoch, epochs_run = f.EpochsRun,
            }),
        }, Json));
        AtomicFile.WriteAllText(Path.Combine(outputDirectory, ResultMarkdown), Markdown(result));
        return result;
    }

    public static string Markdown(CrossValidationResult result)
    {
        var text = new StringBuilder();
        text.AppendLine(I($"Speaker-independent {result.Folds}-fold cross-validation (sex-balanced actor folds, fold seed {result.FoldSeed})."));
        text.AppendLine();
        text.AppendLine("| fold | test actors | train / val / test clips | best epoch | test accuracy | macro-F1 |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var f in result.FoldResults)
        {
            text.AppendLine(I($"| {f.Fold} | {f.TestActors.Count} | {f.TrainClips} / {f.ValidationClips} / {f.TestClips} | {f.BestEpoch} of {f.EpochsRun} | {100 * f.TestAccuracy:F1} % | {f.MacroF1:F3} |"));
        }
        text.AppendLine(I($"| mean ± sd | | | | {100 * result.AccuracyMean:F1} ± {100 * result.AccuracySd:F1} % | {result.MacroF1Mean:F3} ± {result.MacroF1Sd:F3} |"));
        text.AppendLine(I($"| pooled (every clip once) | | | | {100 * result.PooledAccuracy:F1} % | {result.PooledMacroF1:F3} |"));
        if (result.MergedModelCard.LargestAccuracyGap is { } gap)
        {
            text.AppendLine();
            text.AppendLine(I($"Largest gap between speaker groups (merged model card): {gap.Attribute} {gap.Metric}, {gap.HighestGroup} {100 * gap.Highest:F1} % vs {gap.LowestGroup} {100 * gap.Lowest:F1} %."));
        }
        return text.ToString();
    }

    private static ModelCard Card(ModelManifest manifest, FeatureStore store, string partition, IReadOnlyList<string> ids, IReadOnlyList<int> labels,
        IReadOnlyList<int> predicted, IReadOnlyDictionary<string, string> actorOf, IReadOnlyList<string> classNames)
    {
        var speakers = ids.Select((id, i) => new SpeakerPrediction(labels[i], predicted[i], actorOf.GetValueOrDefault(id, ""))).ToList();
        var model = manifest.Model;
        var subject = new ModelCardSubject(
            $"{manifest.ModelName}: BiGRU {model.NumLayers}×{model.HiddenSize} over {model.InputSize} log-mel bands, {model.Classes} classes",
            manifest.Training is { } training ? ModelFiles.RecipeJson(training.Options) : null, store.Metadata.DatasetFingerprint, partition);
        return ModelCard.Build(subject, speakers, classNames, ActorDemographics.CremaD, ActorDemographics.BuiltInSource);
    }

    private sealed class FoldReporter(string prefix, Action<string> report) : ITrainingObserver
    {
        public void OnEpochCompleted(EpochProgress progress) => report(I(
            $"  {prefix}: epoch {progress.Record.Epoch}, val acc {100 * progress.Record.ValidationAccuracy:F1} %, {progress.Record.Seconds:F1} s"));
    }

    private static string Describe(CrossValidationFold fold, int folds) => I(
        $"fold {fold.Fold}/{folds}: {fold.TestActors.Count} test actors, {fold.TestClips} clips: test accuracy {100 * fold.TestAccuracy:F1} %, macro-F1 {fold.MacroF1:F3}");

    private static string I(FormattableString text) => FormattableString.Invariant(text);

    private static double Sd(double[] values)
    {
        if (values.Length < 2) return 0;
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }
}
