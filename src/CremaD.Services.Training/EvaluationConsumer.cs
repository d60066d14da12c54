using System.Diagnostics;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Learning;
using CremaD.Pipeline;
using CremaD.ServiceDefaults;
using CremaD.Services;
using CremaD.Storage;
using MassTransit;

namespace CremaD.Services.Training;

/// <summary>Settings of the evaluation service (configuration section <see cref="SectionName"/>).</summary>
public sealed record EvaluatorOptions
{
    public const string SectionName = "Evaluation";

    /// <summary>LibTorch threads; null: every core this container may use (Environment.ProcessorCount).</summary>
    public int? Threads { get; init; }

    public RunDevice Device { get; init; } = RunDevice.Auto;
}

/// <summary>
/// Queue <c>evaluate-model</c> (<see cref="QueueNames.EvaluateModel"/>): stages the model and the feature store, runs
/// <see cref="EvaluationStage"/> (what <c>cremad evaluate</c> runs) on the test partition and uploads its artefacts
/// (classification_report.json, test_metrics.json, confusion_matrix.png, training_curves.png, history.json,
/// test_predictions.csv) under the command's output prefix, with the run's <c>run.json</c> (<see cref="RunManifest"/>,
/// the file <c>cremad run</c> writes). Redelivery evaluates again into the same keys.
/// </summary>
public sealed class EvaluateModelConsumer(IBlobStore blobs, RunStateStore states, ServiceWorkOptions work, EvaluatorOptions options)
    : IConsumer<EvaluateModel>
{
    private static readonly System.Diagnostics.Metrics.Gauge<double> TestAccuracy = CremaDTelemetry.EvaluationMeter.CreateGauge<double>(
        "cremad.evaluation.accuracy", null, "Test accuracy (0..1) of the latest evaluated run.");

    private static readonly System.Diagnostics.Metrics.Gauge<double> TestMacroF1 = CremaDTelemetry.EvaluationMeter.CreateGauge<double>(
        "cremad.evaluation.macro_f1", null, "Test macro-F1 of the latest evaluated run.");

    public async Task Consume(ConsumeContext<EvaluateModel> context)
    {
        var command = context.Message.ThrowIfInvalid();
        var ct = context.CancellationToken;
        var status = await states.GetAsync(command.RunId, ct).ConfigureAwait(false);
        if (status is not null && status.Stage.IsTerminal()) return;
        var started = DateTimeOffset.UtcNow;

        using var activity = CremaDTelemetry.Evaluation.StartRunActivity("evaluate model", command.RunId);
        var clock = Stopwatch.StartNew();
        var scratch = Path.Combine(work.WorkDirectory, "evaluations", $"{command.RunId:N}-{Guid.NewGuid():N}");
        try
        {
            FeatureStore store;
            var modelDirectory = Path.Combine(scratch, "model");
            using (var download = CremaDTelemetry.Evaluation.StartRunActivity("blob download", command.RunId))
            {
                download?.SetTag("cremad.blob_prefix", command.ModelPrefix);
                store = await BlobFeatureStore.StageAsync(blobs, command.FeatureStorePrefix,
                    Path.Combine(work.WorkDirectory, "features", BlobFeatureStore.LocalFolderName(command.FeatureStorePrefix)), ct).ConfigureAwait(false);
                await blobs.DownloadDirectoryAsync(command.ModelPrefix, modelDirectory, cancellationToken: ct).ConfigureAwait(false);
            }
            if (!File.Exists(Path.Combine(modelDirectory, ModelFiles.BestModel)))
            {
                throw new InvalidDataException($"No trained model under '{command.ModelPrefix}' in {blobs.Location}: {ModelFiles.BestModel} is missing.");
            }

            var output = Path.Combine(scratch, "artifacts");
            var result = await Task.Factory.StartNew(
                () => EvaluationStage.Run(modelDirectory, store, output, Partition.Test, options.Device.ToDeviceChoice(), options.Threads, ct),
                ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            var manifest = DescribeRun(command, status, store, modelDirectory, result, started);
            manifest.Write(Path.Combine(output, RunFiles.Manifest));

            var artifacts = new List<RunArtifact>();
            using (var upload = CremaDTelemetry.Evaluation.StartRunActivity("blob upload", command.RunId))
            {
                foreach (var path in Directory.GetFiles(output).Order(StringComparer.Ordinal))
                {
                    var name = Path.GetFileName(path);
                    var key = command.OutputPrefix + name;
                    await blobs.UploadFileAsync(key, path, ct).ConfigureAwait(false);
                    artifacts.Add(new RunArtifact(name, key));
                }
                upload?.SetTag("cremad.files", artifacts.Count);
            }

            var metrics = result.Summary.Metrics;
            var recalls = result.Summary.Report.Classes.Select(c => new ClassRecall(c.Name, c.Recall)).ToList();
            activity?.SetTag("cremad.test_accuracy", metrics.Accuracy);
            activity?.SetTag("cremad.macro_f1", metrics.MacroF1);
            var run = new KeyValuePair<string, object?>(CremaDTelemetry.RunIdTag, command.RunId.ToString("D"));
            TestAccuracy.Record(metrics.Accuracy, run);
            TestMacroF1.Record(metrics.MacroF1, run);
            activity?.SetTag("cremad.clips", result.Clips);
            await context.Publish(new EvaluationCompleted(command.RunId, metrics.Accuracy, metrics.MacroF1, recalls, metrics.Samples, artifacts,
                clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow), ct).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// run.json of a distributed run: the options, device and threads the trainer recorded in model.json, the dataset and
    /// rejections of the feature store, this service's software versions, and stage durations from the run's status
    /// (features: plan made → features ready; training: features ready → training completed; evaluation: from then to now;
    /// total: submission to now). The directories are blob locations.
    /// </summary>
    private RunManifest DescribeRun(EvaluateModel command, RunStatus? status, FeatureStore store, string modelDirectory,
        EvaluationResult evaluation, DateTimeOffset evaluationStarted)
    {
        var finished = DateTimeOffset.UtcNow;
        var training = ModelManifest.Read(Path.Combine(modelDirectory, ModelFiles.Manifest)).Training;
        var times = status?.Timestamps;
        var submitted = times?.SubmittedAt ?? evaluationStarted;
        var durations = new RunDurations(
            Seconds(times?.FeaturesStartedAt ?? submitted, times?.FeaturesReadyAt),
            Seconds(times?.FeaturesReadyAt, times?.TrainingCompletedAt),
            Seconds(times?.TrainingCompletedAt ?? evaluationStarted, finished),
            Seconds(submitted, finished));
        var metrics = evaluation.Summary.Metrics;
        var results = new RunResults(
            training?.BestEpoch ?? status?.Training.BestEpoch ?? 0,
            training?.BestValidationAccuracy ?? status?.Training.BestValidationAccuracy ?? 0,
            training?.EpochsRun ?? status?.Training.EpochsCompleted ?? 0,
            training?.StoppedEarly ?? status?.Training.StoppedEarly ?? false,
            metrics.Accuracy, metrics.MacroF1, evaluation.Clips);
        return RunManifest.Create(command.RunId.ToString("D"), submitted, finished, $"{blobs.Location}/{BlobLayout.RunPrefix(command.RunId)}",
            $"{blobs.Location}/{command.FeatureStorePrefix}", training?.Options ?? (status?.Config ?? RunConfig.Default).ToTrainingOptions(),
            training?.Device ?? status?.Training.Device ?? "unknown", training?.Threads ?? 0, store, durations, results);
    }

    private static double Seconds(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } start && to is { } end ? Math.Max(0, (end - start).TotalSeconds) : 0;
}
