using System.Diagnostics;
using System.Diagnostics.Metrics;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;
using CremaD.Pipeline;
using CremaD.ServiceDefaults;
using CremaD.Services;
using CremaD.Storage;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ContractEpoch = CremaD.Contracts.EpochProgress;
using RunStage = CremaD.Contracts.RunStage;
using ContractTrainingStarted = CremaD.Contracts.TrainingStarted;

namespace CremaD.Services.Training;

/// <summary>Settings of the trainer (configuration section <see cref="SectionName"/>).</summary>
public sealed record TrainerOptions
{
    public const string SectionName = "Trainer";

    /// <summary>How often the worker looks for pending training requests (it is also woken when one arrives locally).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lease on a run while training it (15–60 s); renewed every third of it. A dead trainer's run is free after this.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>LibTorch threads; null: the library's default.</summary>
    public int? Threads { get; init; }
}

/// <summary>
/// Trains the runs in the durable work list (<see cref="TrainingRequests.RequestsPrefix"/>), one at a time per worker.
/// For each it takes the run's blob lease (renewed while training; a trainer that dies lets it expire), stages the
/// feature store locally, resumes from the checkpoint in blob storage when there is one, trains with the same
/// <see cref="TrainingStage"/> as <c>cremad run</c>, uploads the checkpoint after every epoch and publishes
/// progress, then uploads the model and publishes <see cref="TrainingCompleted"/>.
/// </summary>
public sealed class TrainingJobs(IBlobStore blobs, RunStateStore states, IBus bus, ServiceWorkOptions work, TrainerOptions options,
    ILogger<TrainingJobs> logger)
{
    private IBus Bus => bus;

    private RunStateStore States => states;

    private static readonly Histogram<double> EpochSeconds = CremaDTelemetry.TrainingMeter.CreateHistogram<double>(
        "cremad.training.epoch.duration", "s", "Wall-clock time of a training epoch.");

    /// <summary>Looks at every pending request once; returns how many trainings this worker ran to the end.</summary>
    public async Task<int> RunPendingAsync(CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var blob in blobs.ListAsync(TrainingRequests.RequestsPrefix, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(blob.Key);
        }
        var done = 0;
        foreach (var key in keys)
        {
            if (await TryRunAsync(key, cancellationToken).ConfigureAwait(false)) done++;
        }
        return done;
    }

    /// <summary>Trains the run of one request if no other trainer holds it; false when it was not this worker's to do.</summary>
    public async Task<bool> TryRunAsync(string requestKey, CancellationToken cancellationToken)
    {
        TrainingRequest request;
        try
        {
            request = await blobs.ReadJsonAsync<TrainingRequest>(requestKey, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return false; // finished by another trainer meanwhile
        }
        var command = request.Command;
        var status = await states.GetAsync(command.RunId, cancellationToken).ConfigureAwait(false);
        if (status is not null && status.Stage.IsTerminal())
        {
            await blobs.DeleteAsync(requestKey, cancellationToken).ConfigureAwait(false);
            return false;
        }

        var lease = await blobs.TryAcquireLeaseAsync(TrainingRequests.LeaseKey(command.RunId), options.LeaseDuration, cancellationToken)
            .ConfigureAwait(false);
        if (lease is null) return false;
        await using (lease.ConfigureAwait(false))
        {
            // Listed before the lease was ours: another trainer may have finished the run in between.
            if (!await blobs.ExistsAsync(requestKey, cancellationToken).ConfigureAwait(false)) return false;
            using var job = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var renewals = new CancellationTokenSource();
            var renewing = RenewAsync(lease, job, renewals.Token);
            try
            {
                await TrainAsync(requestKey, request, job).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Stopped from inside: the lease was lost, or the run was cancelled or failed meanwhile.
                if (await states.GetAsync(command.RunId, CancellationToken.None).ConfigureAwait(false) is { } latest && latest.Stage.IsTerminal())
                {
                    await blobs.DeleteAsync(requestKey, CancellationToken.None).ConfigureAwait(false);
                }
                return false;
            }
            finally
            {
                await renewals.CancelAsync().ConfigureAwait(false);
                await renewing.ConfigureAwait(false);
            }
        }
    }

    private async Task RenewAsync(IBlobLease lease, CancellationTokenSource job, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(lease.Duration / 3, stop).ConfigureAwait(false);
                await lease.RenewAsync(stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (BlobLeaseLostException e)
        {
            // Another trainer owns the run now; this one must not write over its checkpoints.
            logger.LogWarning(e, "Lost the lease on {Key}; stopping this training.", lease.Key);
            await job.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not renew the lease on {Key}; stopping this training before it expires.", lease.Key);
            await job.CancelAsync().ConfigureAwait(false);
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

        var modelPrefix = TrainingRequests.ModelPrefix(command);
        var resultKey = TrainingRequests.ResultKey(modelPrefix);
        if (await blobs.ExistsAsync(resultKey, cancellationToken).ConfigureAwait(false))
        {
            // Trained already; the trainer stopped before it could publish or clear the request.
            var stored = await blobs.ReadJsonAsync<TrainingCompleted>(resultKey, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
            await bus.Publish(stored, cancellationToken).ConfigureAwait(false);
            await blobs.DeleteAsync(requestKey, cancellationToken).ConfigureAwait(false);
            return;
        }

        var clock = Stopwatch.StartNew();
        FeatureStore store;
        using (var download = CremaDTelemetry.Training.StartRunActivity("blob download features", runId))
        {
            download?.SetTag("cremad.blob_prefix", command.FeatureStorePrefix);
            store = await BlobFeatureStore.StageAsync(blobs, command.FeatureStorePrefix,
                Path.Combine(work.WorkDirectory, "features", BlobFeatureStore.LocalFolderName(command.FeatureStorePrefix)), cancellationToken)
                .ConfigureAwait(false);
            download?.SetTag("cremad.clips", store.Clips.Count);
        }

        var modelDirectory = Path.Combine(work.WorkDirectory, "runs", runId.ToString("N"), "model");
        if (Directory.Exists(modelDirectory)) Directory.Delete(modelDirectory, recursive: true);
        Directory.CreateDirectory(modelDirectory);
        var resume = await blobs.ExistsAsync(modelPrefix + ModelFiles.Checkpoint, cancellationToken).ConfigureAwait(false);
        if (resume)
        {
            using var download = CremaDTelemetry.Training.StartRunActivity("blob download checkpoint", runId);
            await blobs.DownloadDirectoryAsync(modelPrefix, modelDirectory, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        activity?.SetTag("cremad.resumed", resume);

        var trainingOptions = command.Config.ToTrainingOptions(options.Threads);
        var observer = new Observer(this, runId, modelDirectory, modelPrefix, trainingOptions.Epochs, activity?.Context ?? parent, job);
        TrainingResult result;
        try
        {
            // CPU-bound and synchronous (TorchSharp dispose scopes are thread-static): on a thread of its own.
            result = await Task.Factory.StartNew(
                () => TrainingStage.Run(store, modelDirectory, trainingOptions, resume, observer, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && !observer.InfrastructureFailed)
        {
            // The training itself failed (unusable data, a model error): retrying cannot help.
            logger.LogError(e, "Training of run {RunId} failed.", runId);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            await bus.Publish(new RunFailed(runId, RunStage.Training, $"Training failed: {e.Message}", e.GetType().FullName, DateTimeOffset.UtcNow),
                CancellationToken.None).ConfigureAwait(false);
            await blobs.DeleteAsync(requestKey, CancellationToken.None).ConfigureAwait(false);
            return;
        }

        await UploadModelAsync(runId, modelDirectory, modelPrefix, cancellationToken).ConfigureAwait(false);
        var completed = new TrainingCompleted(runId, modelPrefix, modelPrefix + ArtifactNames.History, result.EpochsRun, result.BestEpoch,
            Math.Clamp(result.BestValidationAccuracy, 0, 1), result.StoppedEarly, clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow);
        await blobs.WriteJsonAsync(resultKey, completed, ServiceJson.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await bus.Publish(completed, cancellationToken).ConfigureAwait(false);
        await blobs.DeleteAsync(requestKey, cancellationToken).ConfigureAwait(false);
        activity?.SetTag("cremad.epochs_run", result.EpochsRun);
        activity?.SetTag("cremad.best_epoch", result.BestEpoch);
        activity?.SetTag("cremad.best_validation_accuracy", result.BestValidationAccuracy);
        logger.LogInformation("Run {RunId} trained: {Epochs} epochs, best epoch {BestEpoch} ({Accuracy:P1}).",
            runId, result.EpochsRun, result.BestEpoch, result.BestValidationAccuracy);
    }

    /// <summary>Every file of the model directory, the checkpoint last (so the checkpoint never refers to files not yet stored).</summary>
    private async Task UploadModelAsync(Guid runId, string modelDirectory, string modelPrefix, CancellationToken cancellationToken)
    {
        using var upload = CremaDTelemetry.Training.StartRunActivity("blob upload model", runId);
        var files = Directory.GetFiles(modelDirectory).Select(Path.GetFileName).OfType<string>()
            .OrderBy(name => name == ModelFiles.Checkpoint ? 1 : 0).ThenBy(name => name, StringComparer.Ordinal).ToList();
        long bytes = 0;
        foreach (var name in files)
        {
            var path = Path.Combine(modelDirectory, name);
            bytes += new FileInfo(path).Length;
            await blobs.UploadFileAsync(modelPrefix + name, path, cancellationToken).ConfigureAwait(false);
        }
        upload?.SetTag("cremad.files", files.Count);
        upload?.SetTag("cremad.bytes", bytes);
    }

    /// <summary>Runs on the training thread: checkpoints to blob storage and publishes progress after every epoch.</summary>
    private sealed class Observer(TrainingJobs jobs, Guid runId, string modelDirectory, string modelPrefix, int maxEpochs,
        ActivityContext parent, CancellationTokenSource job) : ITrainingObserver
    {
        private readonly CancellationToken cancellationToken = job.Token;

        /// <summary>A storage or broker call failed in a callback: the training is to be retried, not failed.</summary>
        public bool InfrastructureFailed { get; private set; }

        public void OnTrainingStarted(CremaD.Learning.TrainingStarted started) => Guard(() =>
            jobs.Bus.Publish(new ContractTrainingStarted(runId, started.Device, maxEpochs, Math.Clamp(started.FirstEpoch, 1, maxEpochs),
                started.TrainClips, started.ValidationClips, DateTimeOffset.UtcNow), cancellationToken));

        public void OnEpochCompleted(CremaD.Learning.EpochProgress progress)
        {
            var record = progress.Record;
            var ended = DateTimeOffset.UtcNow;
            using (var epoch = CremaDTelemetry.Training.StartActivity("epoch", ActivityKind.Internal, parent,
                       startTime: ended - TimeSpan.FromSeconds(record.Seconds)))
            {
                epoch?.SetTag(CremaDTelemetry.RunIdTag, runId.ToString("D"));
                epoch?.SetTag(CremaDTelemetry.EpochTag, record.Epoch);
                epoch?.SetTag("cremad.train_loss", record.TrainLoss);
                epoch?.SetTag("cremad.train_accuracy", record.TrainAccuracy);
                epoch?.SetTag("cremad.validation_loss", record.ValidationLoss);
                epoch?.SetTag("cremad.validation_accuracy", record.ValidationAccuracy);
                epoch?.SetTag("cremad.learning_rate", record.LearningRate);
            }
            EpochSeconds.Record(record.Seconds, new KeyValuePair<string, object?>(CremaDTelemetry.RunIdTag, runId.ToString("D")));
            Guard(() => jobs.UploadModelAsync(runId, modelDirectory, modelPrefix, cancellationToken));
            var epochProgress = new ContractEpoch(record.Epoch, record.TrainLoss, record.TrainAccuracy, record.ValidationLoss,
                record.ValidationAccuracy, record.LearningRate, record.Seconds, progress.BestEpoch, Math.Clamp(progress.BestValidationAccuracy, 0, 1));
            Guard(() => jobs.Bus.Publish(new TrainingEpochCompleted(runId, epochProgress, maxEpochs, DateTimeOffset.UtcNow), cancellationToken));

            // A run cancelled or failed meanwhile is not trained further; the worker then drops its request.
            if (!progress.Stopping && jobs.States.GetAsync(runId, cancellationToken).GetAwaiter().GetResult() is { } status && status.Stage.IsTerminal())
            {
                job.Cancel();
            }
        }

        private void Guard(Func<Task> action)
        {
            try
            {
                action().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                InfrastructureFailed = true;
                throw;
            }
        }
    }
}

/// <summary>The trainer service's background worker: polls the work list (and wakes on local requests) and trains.</summary>
public sealed class TrainingWorker(TrainingJobs jobs, TrainingWorkSignal signal, TrainerOptions options, ILogger<TrainingWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await jobs.RunPendingAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Storage or broker unavailable, a lease lost: the request stays in the list and is tried again.
                logger.LogWarning(e, "Training pass failed; retrying in {Interval}.", options.PollInterval);
            }
            try
            {
                await signal.WaitAsync(options.PollInterval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
