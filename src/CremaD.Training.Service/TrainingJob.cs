using System.Diagnostics;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;
using CremaD.Pipeline;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Telemetry;
using MassTransit;
using Microsoft.Extensions.Logging;
using RunStage = CremaD.Contracts.RunStage;

namespace CremaD.Training.Service;

/// <summary>
/// One training, under the run's lease (<see cref="TrainingLeaseKeeper"/>) and stopped when the run is
/// (<see cref="TrainingStops"/>): stages the feature store locally, resumes from the checkpoint in blob storage when
/// there is one, trains with the same <see cref="TrainingStage"/> as <c>cremad run</c>, uploads the checkpoint after
/// every epoch (overlapping the next: <see cref="ModelUploads"/>) and publishes progress (<see cref="TrainingProgress"/>), then uploads the model, publishes
/// <see cref="TrainingCompleted"/> and drops the request. A training that itself fails (unusable data, a model error)
/// fails the run; a storage or broker failure is a <see cref="TrainingStepException"/>, for the attempt to be retried.
/// </summary>
public sealed class TrainingJob(IBlobStore blobs, IBus bus, ServiceWorkOptions work, TrainerOptions options, ModelUploader uploader,
    TrainingStops stops, TrainingFailureLedger failures, ILogger<TrainingJob> logger)
{
    /// <summary>
    /// Trains the request's run while <paramref name="lease"/> is held; true when the training ran to the end, false when
    /// it was stopped from inside (the run stopped, the lease lost to another trainer).
    /// </summary>
    /// <exception cref="TrainingStepException">A storage or broker call failed, or the lease could not be renewed.</exception>
    public async Task<bool> RunAsync(string requestKey, TrainingRequest request, IBlobLease lease, CancellationToken cancellationToken)
    {
        var runId = request.Command.RunId;
        using var job = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var watching = stops.Watch(runId, job);
        await using var keeper = new TrainingLeaseKeeper(lease, job, logger);
        try
        {
            await TrainAsync(requestKey, request, job).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (await keeper.StopAsync().ConfigureAwait(false) is { } renewalFailure)
            {
                throw new TrainingStepException($"renewing the lease on '{lease.Key}'", renewalFailure);
            }
            // The run stopped meanwhile: its request goes. (Otherwise the lease was lost: the other trainer has the run.)
            var stop = await TrainingStep.RunAsync($"reading '{BlobLayout.TrainingStopKey(runId)}'", () => stops.FindAsync(runId, CancellationToken.None),
                CancellationToken.None).ConfigureAwait(false);
            if (stop is not null)
            {
                logger.LogInformation("Run {RunId} was {Reason}; its training stopped.", runId, stop.Reason);
                await TrainingStep.DeleteRequestAsync(blobs, requestKey, CancellationToken.None).ConfigureAwait(false);
            }
            return false;
        }
    }

    private async Task TrainAsync(string requestKey, TrainingRequest request, CancellationTokenSource job)
    {
        var cancellationToken = job.Token;
        var command = request.Command;
        var runId = command.RunId;
        ActivityContext.TryParse(request.TraceParent, null, out var parent);
        using var activity = CremaDTelemetry.Training.StartActivity("train model", ActivityKind.Internal, parent);
        activity?.SetTag(CremaDTelemetry.RunIdTag, runId.ToString("D"));

        var modelPrefix = BlobLayout.ModelPrefix(command.OutputPrefix);
        var resultKey = BlobLayout.TrainingResultKey(modelPrefix);
        if (await TrainingStep.RunAsync($"checking for '{resultKey}'", () => blobs.ExistsAsync(resultKey, cancellationToken), cancellationToken)
                .ConfigureAwait(false))
        {
            // Trained already; the trainer stopped before it could publish or clear the request.
            var stored = await TrainingStep.RunAsync($"reading '{resultKey}'",
                () => blobs.ReadJsonAsync<TrainingCompleted>(resultKey, ServiceJson.Options, cancellationToken), cancellationToken).ConfigureAwait(false);
            await TrainingStep.RunAsync("publishing TrainingCompleted", () => bus.Publish(stored, cancellationToken), cancellationToken).ConfigureAwait(false);
            await TrainingStep.DeleteRequestAsync(blobs, requestKey, cancellationToken).ConfigureAwait(false);
            return;
        }

        var clock = Stopwatch.StartNew();
        FeatureStore store;
        using (var download = CremaDTelemetry.Training.StartRunActivity("blob download features", runId))
        {
            download?.SetTag("cremad.blob_prefix", command.FeatureStorePrefix);
            store = await TrainingStep.RunAsync($"staging the feature store '{command.FeatureStorePrefix}'",
                () => BlobFeatureStore.StageIntoWorkAsync(blobs, command.FeatureStorePrefix, work.WorkDirectory, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
            download?.SetTag("cremad.clips", store.Clips.Count);
        }

        var modelDirectory = Path.Combine(work.WorkDirectory, "runs", runId.ToString("N"), "model");
        if (Directory.Exists(modelDirectory)) Directory.Delete(modelDirectory, recursive: true);
        Directory.CreateDirectory(modelDirectory);
        var checkpointKey = BlobLayout.FileKey(modelPrefix, ModelFiles.Checkpoint);
        var resume = await TrainingStep.RunAsync($"checking for '{checkpointKey}'", () => blobs.ExistsAsync(checkpointKey, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        if (resume)
        {
            logger.LogInformation("Run {RunId}: resuming training from the checkpoint under {Prefix}.", runId, modelPrefix);
            using var download = CremaDTelemetry.Training.StartRunActivity("blob download checkpoint", runId);
            await TrainingStep.RunAsync($"downloading the checkpointed model under '{modelPrefix}'",
                () => blobs.DownloadDirectoryAsync(modelPrefix, modelDirectory, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        activity?.SetTag("cremad.resumed", resume);

        var trainingOptions = command.Config.ToTrainingOptions(options.Threads);
        await using var uploads = new ModelUploads(uploader, runId, modelDirectory, modelPrefix, options.CheckpointInterval);
        var progress = new TrainingProgress(bus, uploads, stops, failures, requestKey, runId, trainingOptions.Epochs,
            activity?.Context ?? parent, job);
        TrainingResult result;
        try
        {
            // CPU-bound and synchronous (TorchSharp dispose scopes are thread-static): on a thread of its own.
            result = await Task.Factory.StartNew(
                () => TrainingStage.Run(store, modelDirectory, trainingOptions, resume, progress, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not TrainingStepException)
        {
            // The training itself failed (unusable data, a model error): retrying cannot help.
            logger.LogError(e, "Training of run {RunId} failed.", runId);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            await TrainingStep.RunAsync("publishing RunFailed", () => bus.Publish(new RunFailed(runId, RunStage.Training, $"Training failed: {e.Message}",
                e.GetType().FullName, DateTimeOffset.UtcNow), CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
            await TrainingStep.DeleteRequestAsync(blobs, requestKey, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        await uploads.CompleteAsync(cancellationToken).ConfigureAwait(false);
        var completed = new TrainingCompleted(runId, modelPrefix, BlobLayout.FileKey(modelPrefix, ArtifactNames.History), result.EpochsRun, result.BestEpoch,
            Math.Clamp(result.BestValidationAccuracy, 0, 1), result.StoppedEarly, clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow);
        await TrainingStep.RunAsync($"writing '{resultKey}'",
            () => blobs.WriteJsonAsync(resultKey, completed, ServiceJson.Options, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        await TrainingStep.RunAsync("publishing TrainingCompleted", () => bus.Publish(completed, cancellationToken), cancellationToken).ConfigureAwait(false);
        await TrainingStep.DeleteRequestAsync(blobs, requestKey, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("cremad.epochs_run", result.EpochsRun);
        activity?.SetTag("cremad.best_epoch", result.BestEpoch);
        activity?.SetTag("cremad.best_validation_accuracy", result.BestValidationAccuracy);
        logger.LogInformation("Run {RunId} trained: {Epochs} epochs, best epoch {BestEpoch} ({Accuracy:P1}).",
            runId, result.EpochsRun, result.BestEpoch, result.BestValidationAccuracy);
    }
}
