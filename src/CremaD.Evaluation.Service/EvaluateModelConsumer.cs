using System.Diagnostics;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Learning;
using CremaD.Pipeline;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Telemetry;
using MassTransit;

namespace CremaD.Evaluation.Service;

/// <summary>
/// Queue <c>evaluate-model</c> (<see cref="QueueNames.EvaluateModel"/>): stages the model and the feature store, runs
/// <see cref="EvaluationStage"/> (what <c>cremad evaluate</c> runs) on the test partition and uploads its artefacts
/// (classification_report.json, test_metrics.json, confusion_matrix.png, training_curves.png, history.json,
/// test_predictions.csv) under the command's output prefix, with the run's <c>run.json</c> (<see cref="RunManifest"/>,
/// the file <c>cremad run</c> writes). Redelivery evaluates again into the same keys. A run stopped before or during its
/// evaluation (<see cref="EvaluationStops"/>) is not evaluated, or not further, and nothing is reported for it.
/// </summary>
public sealed class EvaluateModelConsumer(IBlobStore blobs, EvaluationStops stops, ServiceWorkOptions work, EvaluatorOptions options)
    : IConsumer<EvaluateModel>
{
    private static readonly System.Diagnostics.Metrics.Gauge<double> TestAccuracy = CremaDTelemetry.EvaluationMeter.CreateGauge<double>(
        "cremad.evaluation.accuracy", null, "Test accuracy (0..1) of the latest evaluated run.");

    private static readonly System.Diagnostics.Metrics.Gauge<double> TestMacroF1 = CremaDTelemetry.EvaluationMeter.CreateGauge<double>(
        "cremad.evaluation.macro_f1", null, "Test macro-F1 of the latest evaluated run.");

    public async Task Consume(ConsumeContext<EvaluateModel> context)
    {
        var command = context.Message.ThrowIfInvalid();
        using var evaluation = stops.Begin(command.RunId, context.CancellationToken);
        if (evaluation.Stopped) return;
        try
        {
            await EvaluateAsync(command, context, evaluation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (evaluation.Stopped)
        {
            // The run was cancelled or failed meanwhile: its evaluation is of no use to anyone.
        }
    }

    private async Task EvaluateAsync(EvaluateModel command, ConsumeContext context, CancellationToken ct)
    {
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
                // Both at once: each is a handful of requests, and a hand-over is on the run's critical path.
                var staging = BlobFeatureStore.StageIntoWorkAsync(blobs, command.FeatureStorePrefix, work.WorkDirectory, ct);
                // The training checkpoint (optimiser state, the largest file) is only for resuming training.
                var model = blobs.DownloadDirectoryAsync(command.ModelPrefix, modelDirectory, cancellationToken: ct,
                    include: name => name != ModelFiles.Checkpoint);
                await Task.WhenAll(staging, model).ConfigureAwait(false);
                store = await staging.ConfigureAwait(false);
            }
            if (!File.Exists(Path.Combine(modelDirectory, ModelFiles.BestModel)))
            {
                throw new InvalidDataException($"No trained model under '{command.ModelPrefix}' in {blobs.Location}: {ModelFiles.BestModel} is missing.");
            }

            var output = Path.Combine(scratch, "artifacts");
            var result = await Task.Factory.StartNew(
                () => EvaluationStage.Run(modelDirectory, store, output, Partition.Test, options.Device.ToDeviceChoice(), options.Threads, ct),
                ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            var manifest = DescribeRun(command, store, modelDirectory, result, started);
            manifest.Write(Path.Combine(output, RunFiles.Manifest));

            List<RunArtifact> artifacts;
            using (var upload = CremaDTelemetry.Evaluation.StartRunActivity("blob upload", command.RunId))
            {
                artifacts = Directory.GetFiles(output).Order(StringComparer.Ordinal)
                    .Select(path => new RunArtifact(Path.GetFileName(path), BlobLayout.FileKey(command.OutputPrefix, Path.GetFileName(path))))
                    .ToList();
                await Parallel.ForEachAsync(artifacts,
                    new ParallelOptions { MaxDegreeOfParallelism = BlobStoreExtensions.DefaultTransferParallelism, CancellationToken = ct },
                    async (artifact, token) => await blobs.UploadFileAsync(artifact.Key, Path.Combine(output, artifact.Name), token).ConfigureAwait(false))
                    .ConfigureAwait(false);
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
    /// rejections of the feature store, this service's software versions, and stage durations from the run's timestamps
    /// the command carries (features: plan made → features ready; training: features ready → training completed;
    /// evaluation: from then to now; total: submission to now); where model.json has no training record, the command's
    /// recipe and training summary. The directories are blob locations.
    /// </summary>
    private RunManifest DescribeRun(EvaluateModel command, FeatureStore store, string modelDirectory, EvaluationResult evaluation,
        DateTimeOffset evaluationStarted)
    {
        var finished = DateTimeOffset.UtcNow;
        var training = ModelManifest.Read(Path.Combine(modelDirectory, ModelFiles.Manifest)).Training;
        var times = command.Timestamps;
        var durations = new RunDurations(
            Seconds(times.FeaturesStartedAt ?? times.SubmittedAt, times.FeaturesReadyAt),
            Seconds(times.FeaturesReadyAt, times.TrainingCompletedAt),
            Seconds(times.TrainingCompletedAt ?? evaluationStarted, finished),
            Seconds(times.SubmittedAt, finished));
        var metrics = evaluation.Summary.Metrics;
        var results = new RunResults(
            training?.BestEpoch ?? command.Training.BestEpoch,
            training?.BestValidationAccuracy ?? command.Training.BestValidationAccuracy,
            training?.EpochsRun ?? command.Training.EpochsRun,
            training?.StoppedEarly ?? command.Training.StoppedEarly,
            metrics.Accuracy, metrics.MacroF1, evaluation.Clips);
        return RunManifest.Create(command.RunId.ToString("D"), times.SubmittedAt, finished, $"{blobs.Location}/{BlobLayout.RunPrefix(command.RunId)}",
            $"{blobs.Location}/{command.FeatureStorePrefix}", training?.Options ?? command.Config.ToTrainingOptions(),
            training?.Device ?? command.Training.Device, training?.Threads ?? 0, store, durations, results);
    }

    private static double Seconds(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } start && to is { } end ? Math.Max(0, (end - start).TotalSeconds) : 0;
}
