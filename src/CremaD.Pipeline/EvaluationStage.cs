using System.Globalization;
using System.Text;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>What <see cref="EvaluationStage.Run"/> produced.</summary>
public sealed record EvaluationResult(EvaluationSummary Summary, Partition Partition, int Clips, string? TrainingCurvesPath, string PredictionsPath,
    ModelCard ModelCard);

/// <summary>
/// Evaluation as a stage: a model directory and a feature store in; classification_report.json, test_metrics.json,
/// confusion_matrix.png, per-clip predictions and (when the model directory has a history) training_curves.png out.
/// </summary>
public static class EvaluationStage
{
    public static EvaluationResult Run(string modelDirectory, FeatureStore store, string outputDirectory,
        Partition partition = Partition.Test, DeviceChoice device = DeviceChoice.Auto, int? threads = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var clips = store.LoadPartition(partition);
        if (clips.Count == 0)
            throw new InvalidDataException($"{store.Directory}: the {partition.ToName()} partition has no clips to evaluate.");

        using var predictor = Predictor.Load(modelDirectory, device, threads);
        var predictions = predictor.Evaluate(clips, cancellationToken: cancellationToken);
        var names = ClassNames.ForDisplay(predictor.ClassNames);
        Directory.CreateDirectory(outputDirectory);
        var summary = EvaluationArtifacts.Write(outputDirectory, predictions.Labels, predictions.Predicted, names);
        var predictionsPath = Path.Combine(outputDirectory, RunFiles.Predictions);
        WritePredictions(predictionsPath, predictions, names);
        var card = BuildModelCard(predictor.Manifest, store, partition, predictions, names);
        ModelCardArtifacts.Write(outputDirectory, card);

        string? curvesPath = null;
        var historyPath = Path.Combine(modelDirectory, ArtifactNames.History);
        if (File.Exists(historyPath))
        {
            var history = TrainingHistory.Read(historyPath);
            if (history.Count > 0)
            {
                curvesPath = Path.Combine(outputDirectory, ArtifactNames.TrainingCurves);
                Plots.SaveTrainingCurves(history, curvesPath, predictor.Manifest.Training?.BestEpoch);
                if (!SamePath(modelDirectory, outputDirectory))
                    File.Copy(historyPath, Path.Combine(outputDirectory, ArtifactNames.History), overwrite: true);
            }
        }
        return new EvaluationResult(summary, partition, clips.Count, curvesPath, predictionsPath, card);
    }

    /// <summary>
    /// The model card of these predictions: each clip's speaker is the actor id of its CREMA-D file name (clips named
    /// otherwise count as unknown), matched against CREMA-D's built-in VideoDemographics.
    /// </summary>
    public static ModelCard BuildModelCard(ModelManifest manifest, FeatureStore store, Partition partition, PartitionPredictions predictions,
        IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(predictions);
        var speakers = new SpeakerPrediction[predictions.Ids.Count];
        for (var i = 0; i < speakers.Length; i++)
            speakers[i] = new SpeakerPrediction(predictions.Labels[i], predictions.Predicted[i], CremaDFileName.ActorOf(predictions.Ids[i]) ?? "");
        var model = manifest.Model;
        var subject = new ModelCardSubject(
            $"BiGRU {model.NumLayers}×{model.HiddenSize} over {model.InputSize} log-mel bands, {model.Classes} classes",
            manifest.Training is { } training ? ModelFiles.RecipeJson(training.Options) : null,
            store.Metadata.DatasetFingerprint, partition.ToName());
        return ModelCard.Build(subject, speakers, classNames, ActorDemographics.CremaD, ActorDemographics.BuiltInSource);
    }

    /// <summary>One row per clip: id, true and predicted class, then one probability column per class.</summary>
    private static void WritePredictions(string path, PartitionPredictions predictions, IReadOnlyList<string> names)
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append("id,true,predicted");
        foreach (var name in names) text.Append(",p_").Append(name);
        text.Append('\n');
        for (var i = 0; i < predictions.Ids.Count; i++)
        {
            text.Append(Csv(predictions.Ids[i])).Append(',').Append(names[predictions.Labels[i]]).Append(',').Append(names[predictions.Predicted[i]]);
            foreach (var p in predictions.Probabilities[i]) text.Append(',').Append(p.ToString("0.######", inv));
            text.Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    private static string Csv(string field) =>
        field.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.GetFullPath(a).TrimEnd(Path.DirectorySeparatorChar), Path.GetFullPath(b).TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal);
}
