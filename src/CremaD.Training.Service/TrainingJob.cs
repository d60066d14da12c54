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
/// One training attempt, under the run's lease (<see cref="TrainingLeaseKeeper"/>) and stopped when the run is
/// (<see cref="TrainingStops"/>): recorded in the run's attempt record (<see cref="TrainingAttempts"/>: a run whose
/// trainer died too often in a row is failed instead), takes the run's model over (<see cref="CheckpointFence"/>: a new
/// owner generation, its own folder), stages the feature store locally, resumes from the committed checkpoint when there
/// is one, trains with the same <see cref="TrainingStage"/> as <c>cremad run</c>, uploads and commits the checkpoint after
/// every epoch (overlapping the next: <see cref="ModelUploads"/>) and publishes progress (<see cref="TrainingProgress"/>),
/// then uploads the model, commits the result, publishes <see cref="TrainingCompleted"/> (naming the committed folder),
/// removes the other generations' folders and drops the request. A training that itself fails (unusable data, a model
/// error) fails the run; a storage or broker failure is a <see cref="TrainingStepException"/>, for the attempt to be
/// retried; a commit refused because another trainer took the run (<see cref="TrainingFencedException"/>) stops this
/// attempt as a lost lease does, with nothing more written or published.
/// </summary>
public sealed class TrainingJob(IBlobStore blobs, IBus bus, ServiceWorkOptions work, TrainerOptions options, ModelUploader uploader,
    TrainingStops stops, TrainingFailureLedger failures, TrainingAttempts attempts, ILogger<TrainingJob> logger)
{
    /// <summary>
    /// Trains the request's run while <paramref name="lease"/> is held; true when the training ran to the end, false when
    /// it was stopped from inside (the run stopped, the lease lost or the model taken over by another trainer) or the run
    /// was failed because its trainer kept dying.
    /// </summary>
    /// <exception cref="TrainingStepException">A storage or broker call failed, or the lease could not be renewed.</exception>
    public async Task<bool> RunAsync(string requestKey, TrainingRequest request, IBlobLease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var runId = request.Command.RunId;
        var (attempt, diedTooOften) = await attempts.StartAsync(runId, cancellationToken).ConfigureAwait(false);
        if (attempt is null)
        {
            logger.LogError("Run {RunId} fails: {Reason}", runId, diedTooOften);
            await TrainingStep.RunAsync("publishing RunFailed", () => bus.Publish(new RunFailed(runId, RunStage.Training, diedTooOften!, null,
                DateTimeOffset.UtcNow), cancellationToken), cancellationToken).ConfigureAwait(false);
            await TrainingStep.DeleteRequestAsync(blobs, requestKey, cancellationToken).ConfigureAwait(false);
            return false;
        }
        // Whatever happens here short of the process dying, the attempt ended: it is not counted as a death.
        var outcome = "ended by an error";
        try
        {
            var trained = await RunAttemptAsync(requestKey, request, lease, attempt, cancellationToken).ConfigureAwait(false);
            outcome = trained ? "done" : "stopped";
            return trained;
        }
        catch (TrainingStepException e)
        {
            outcome = e.Message;
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "stopped: the trainer is shutting down";
            throw;
        }
        finally
        {
            await attempt.EndAsync(outcome).ConfigureAwait(false);
        }
    }

    private async Task<bool> RunAttemptAsync(string requestKey, TrainingRequest request, IBlobLease lease, TrainingAttempt attempt,
        CancellationToken cancellationToken)
    {
        var runId = request.Command.RunId;
        using var job = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var watching = stops.Watch(runId, job);
        await using var keeper = new TrainingLeaseKeeper(lease, job, logger);
        CheckpointFence? fence = null;
        try
        {
            var modelPrefix = BlobLayout.ModelPrefix(request.Command.OutputPrefix);
            fence = await TrainingStep.RunAsync($"taking over '{BlobLayout.ModelCheckpointKey(modelPrefix)}'",
                () => CheckpointFence.TakeOverAsync(blobs, runId, modelPrefix, job.Token), job.Token).ConfigureAwait(false);
            await TrainAsync(requestKey, request, attempt, fence, job).ConfigureAwait(false);
            return true;
        }
        catch (TrainingFencedException e)
        {
            // Another trainer owns the run now (this one was paused past its lease, say): it trains and publishes the run.
            logger.LogWarning(e, "Run {RunId}: taken over by another trainer; this training stops without committing.", runId);
            try
            {
                if (fence is not null) await fence.DeleteAbandonedGenerationAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception cleanup) when (cleanup is not OperationCanceledException)
            {
                // Left for the successor, which removes every other generation's files once the training is done.
                logger.LogWarning(cleanup, "Run {RunId}: could not remove the files of owner generation {Generation}.", runId, e.Generation);
            }
            return false;
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

    private async Task TrainAsync(string requestKey, TrainingRequest request, TrainingAttempt attempt, CheckpointFence fence, CancellationTokenSource job)
    {
        var cancellationToken = job.Token;
        var command = request.Command;
        var runId = command.RunId;
        ActivityContext.TryParse(request.TraceParent, null, out var parent);
        using var activity = CremaDTelemetry.Training.StartActivity("train model", ActivityKind.Internal, parent);
        activity?.SetTag(CremaDTelemetry.RunIdTag, runId.ToString("D"));

        var pointerKey = BlobLayout.ModelCheckpointKey(fence.ModelPrefix);
        if (fence.Committed.Completed is { } stored)
        {
            // Trained already; the trainer stopped before it could publish or clear the request.
            await FinishAsync(fence, stored, requestKey, cancellationToken).ConfigureAwait(false);
            return;
        }
        activity?.SetTag("cremad.owner_generation", fence.Generation);

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
        var committed = fence.Committed;
        var resume = committed.Prefix is not null;
        if (committed.Prefix is { } checkpointPrefix)
        {
            logger.LogInformation("Run {RunId}: resuming training from the checkpoint of epoch {Epoch} under {Prefix} (owner generation {Generation}).",
                runId, committed.Epoch, checkpointPrefix, fence.Generation);
            using var download = CremaDTelemetry.Training.StartRunActivity("blob download checkpoint", runId);
            await TrainingStep.RunAsync($"downloading the checkpointed model under '{checkpointPrefix}'",
                () => blobs.DownloadDirectoryAsync(checkpointPrefix, modelDirectory, cancellationToken: cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        activity?.SetTag("cremad.resumed", resume);
        await attempt.RecordStepAsync($"training epoch {committed.Epoch + 1}" + (resume ? $" (resumed from epoch {committed.Epoch})" : ""), cancellationToken)
            .ConfigureAwait(false);

        var trainingOptions = command.Config.ToTrainingOptions(options.TrainingThreads);
        await using var uploads = new ModelUploads(uploader, fence, modelDirectory, options.CheckpointInterval,
            (epoch, ct) => attempt.RecordProgressAsync($"training epoch {epoch + 1} (epoch {epoch} stored)", ct));
        var progress = new TrainingProgress(bus, uploads, stops, failures, requestKey, runId, trainingOptions.Epochs,
            activity?.Context ?? parent, job, options.WorkerName ?? TrainerOptions.DefaultWorkerName(null));
        TrainingResult result;
        try
        {
            // CPU-bound and synchronous (TorchSharp dispose scopes are thread-static): on a thread of its own.
            result = await Task.Factory.StartNew(
                () => TrainingStage.Run(store, modelDirectory, trainingOptions, resume, progress, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not TrainingStepException && e is not TrainingFencedException)
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
        var model = fence.GenerationPrefix;
        var completed = new TrainingCompleted(runId, model, BlobLayout.FileKey(model, ArtifactNames.History), result.EpochsRun, result.BestEpoch,
            Math.Clamp(result.BestValidationAccuracy, 0, 1), result.StoppedEarly, clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow);
        // The commit point: refused (fenced out) if another trainer took the run meanwhile, which then publishes its own.
        await TrainingStep.RunAsync($"committing the trained model in '{pointerKey}'", () => fence.CompleteAsync(completed, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        await FinishAsync(fence, completed, requestKey, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("cremad.epochs_run", result.EpochsRun);
        activity?.SetTag("cremad.best_epoch", result.BestEpoch);
        activity?.SetTag("cremad.best_validation_accuracy", result.BestValidationAccuracy);
        logger.LogInformation("Run {RunId} trained: {Epochs} epochs, best epoch {BestEpoch} ({Accuracy:P1}).",
            runId, result.EpochsRun, result.BestEpoch, result.BestValidationAccuracy);
    }

    /// <summary>
    /// After the result is committed (by this attempt, or one that stopped before it could go on): removes the other
    /// generations' model folders, publishes the result and drops the request. Each step may be redone by the next attempt.
    /// </summary>
    private async Task FinishAsync(CheckpointFence fence, TrainingCompleted completed, string requestKey, CancellationToken cancellationToken)
    {
        var removed = await TrainingStep.RunAsync($"removing the other owner generations' files under '{fence.ModelPrefix}'",
            () => fence.DeleteOtherGenerationsAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
        if (removed > 0) logger.LogInformation("Run {RunId}: removed {Count} files of other owner generations.", completed.RunId, removed);
        await TrainingStep.RunAsync("publishing TrainingCompleted", () => bus.Publish(completed, cancellationToken), cancellationToken).ConfigureAwait(false);
        await TrainingStep.DeleteRequestAsync(blobs, requestKey, cancellationToken).ConfigureAwait(false);
    }
}
