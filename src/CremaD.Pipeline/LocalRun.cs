using System.Diagnostics;
using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>The stages of a run, in order.</summary>
public enum RunStage
{
    Features,
    Training,
    Evaluation,
}

/// <summary>Receives a run's progress: stage boundaries, feature progress and training progress.</summary>
public interface IRunObserver : ITrainingObserver
{
    void OnStageStarted(RunStage stage) { }

    void OnStageCompleted(RunStage stage, TimeSpan elapsed, string summary) { }

    /// <summary>Where feature-stage progress goes (null: not shown).</summary>
    IProgress<FeatureProgress>? FeatureProgress => null;
}

/// <summary>What a whole run asks for.</summary>
/// <param name="FeaturesDirectory">A feature store to use (and update) instead of &lt;output&gt;/features, e.g. one shared by several runs.</param>
/// <param name="Resume">Continue an interrupted run in <paramref name="OutputDirectory"/> from its last checkpoint.</param>
public sealed record RunRequest(
    Dataset Dataset,
    string OutputDirectory,
    TrainingOptions Training,
    FeatureStageOptions Features,
    string? FeaturesDirectory = null,
    bool Resume = false,
    string? RunId = null);

/// <summary>What a run produced.</summary>
public sealed record RunOutcome(RunManifest Manifest, FeatureStageResult Features, TrainingResult Training, EvaluationResult Evaluation);

/// <summary>
/// features → train → evaluate in one process, on local folders: the path `cremad run` takes, and the one the
/// distributed services split into messages. Every artefact lands in the run's output directory.
/// </summary>
public static class LocalRun
{
    public static async Task<RunOutcome> ExecuteAsync(RunRequest request, IRunObserver? observer = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Training.Validate();
        var started = DateTimeOffset.UtcNow;
        var total = Stopwatch.StartNew();
        var output = Path.GetFullPath(request.OutputDirectory);
        Directory.CreateDirectory(output);
        var featuresDirectory = Path.GetFullPath(request.FeaturesDirectory ?? Path.Combine(output, RunFiles.FeaturesFolder));

        observer?.OnStageStarted(RunStage.Features);
        var stage = Stopwatch.StartNew();
        var features = await FeatureStage.RunAsync(request.Dataset, featuresDirectory, request.Features, observer?.FeatureProgress,
            cancellationToken).ConfigureAwait(false);
        var featureSeconds = stage.Elapsed.TotalSeconds;
        observer?.OnStageCompleted(RunStage.Features, stage.Elapsed,
            $"{features.Clips} clips ({features.Extracted} extracted, {features.Reused} reused), {features.Rejected} rejected");
        var store = FeatureStore.Open(featuresDirectory);

        observer?.OnStageStarted(RunStage.Training);
        stage.Restart();
        // Training is CPU-bound and synchronous (TorchSharp dispose scopes are thread-static): run it on its own thread.
        var training = await Task.Factory.StartNew(
            () => TrainingStage.Run(store, output, request.Training, request.Resume, observer, cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        var trainingSeconds = stage.Elapsed.TotalSeconds;
        observer?.OnStageCompleted(RunStage.Training, stage.Elapsed,
            $"{training.EpochsRun} epochs, best epoch {training.BestEpoch} (validation accuracy {training.BestValidationAccuracy:P1})");

        observer?.OnStageStarted(RunStage.Evaluation);
        stage.Restart();
        var evaluation = await Task.Factory.StartNew(
            () => EvaluationStage.Run(output, store, output, Partition.Test, request.Training.Device, request.Training.Threads, cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        var evaluationSeconds = stage.Elapsed.TotalSeconds;
        var metrics = evaluation.Summary.Metrics;
        observer?.OnStageCompleted(RunStage.Evaluation, stage.Elapsed,
            $"test accuracy {metrics.Accuracy:P1}, macro F1 {metrics.MacroF1:F3} on {evaluation.Clips} clips");

        var manifest = RunManifest.Create(
            request.RunId ?? Path.GetFileName(output),
            started,
            DateTimeOffset.UtcNow,
            output,
            featuresDirectory,
            request.Training,
            training.Device,
            training.Threads,
            store,
            new RunDurations(featureSeconds, trainingSeconds, evaluationSeconds, total.Elapsed.TotalSeconds),
            new RunResults(training.BestEpoch, training.BestValidationAccuracy, training.EpochsRun, training.StoppedEarly,
                metrics.Accuracy, metrics.MacroF1, evaluation.Clips));
        manifest.Write(Path.Combine(output, RunFiles.Manifest));
        return new RunOutcome(manifest, features, training, evaluation);
    }

    /// <summary>A fresh run id: UTC time plus a short random suffix, sortable and unique enough for a folder name.</summary>
    public static string NewRunId() => $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}";
}
