using System.Collections.Concurrent;
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

    /// <summary>
    /// Threads to train with; null: every core this container may use (<see cref="Environment.ProcessorCount"/>, which
    /// honours container CPU limits), so a trainer's speed follows the cores it is given. See TrainingOptions.Threads.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>The thread count a training run gets: <see cref="Threads"/>, or every core of the container.</summary>
    public int TrainingThreads => Threads ?? Environment.ProcessorCount;

    /// <summary>
    /// Attempts on one run that may fail in a row (storage or broker errors, with no epoch finished in between) before
    /// the run is failed with the last error as the reason, instead of being retried forever.
    /// </summary>
    public int MaxConsecutiveFailures { get; init; } = 5;

    /// <summary>Wait before the first retry of a failed attempt; doubled after each further failure, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(2);

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        BlobLeaseDuration.Validate(LeaseDuration);
        if (PollInterval <= TimeSpan.Zero) throw new ArgumentException($"{SectionName}:PollInterval must be positive, got {PollInterval}.");
        if (Threads is < 1) throw new ArgumentException($"{SectionName}:Threads must be at least 1, got {Threads}.");
        if (MaxConsecutiveFailures < 1) throw new ArgumentException($"{SectionName}:MaxConsecutiveFailures must be at least 1, got {MaxConsecutiveFailures}.");
        if (RetryDelay < TimeSpan.Zero || MaxRetryDelay < RetryDelay)
        {
            throw new ArgumentException($"{SectionName}:RetryDelay ({RetryDelay}) must be non-negative and at most {SectionName}:MaxRetryDelay ({MaxRetryDelay}).");
        }
    }
}

/// <summary>
/// A step of a training attempt failed on storage or the broker. The message names the step (with the blob key or
/// prefix it was about) and the cause: it becomes the run's failure reason when the attempts run out.
/// </summary>
public sealed class TrainingStepException(string step, Exception innerException)
    : Exception($"{step} failed: {Describe(innerException)}", innerException)
{
    /// <summary>What was being done, e.g. "uploading 'runs/…/model/last_checkpoint'".</summary>
    public string Step { get; } = step;

    private static string Describe(Exception e)
    {
        // Azure's RequestFailedException puts status, headers and content on further lines: keep the first, add the status.
        var end = e.Message.AsSpan().IndexOfAny('\r', '\n');
        var text = (end < 0 ? e.Message : e.Message[..end]).Trim();
        var http = e as Azure.RequestFailedException ?? e.InnerException as Azure.RequestFailedException;
        return http is null ? text : $"{text} (HTTP {http.Status}{(string.IsNullOrEmpty(http.ErrorCode) ? "" : ", " + http.ErrorCode)})";
    }
}

/// <summary>
/// Trains the runs in the durable work list (<see cref="TrainingRequests.RequestsPrefix"/>), one at a time per worker.
/// For each it takes the run's blob lease (renewed while training; a trainer that dies lets it expire), stages the
/// feature store locally, resumes from the checkpoint in blob storage when there is one, trains with the same
/// <see cref="TrainingStage"/> as <c>cremad run</c>, uploads the checkpoint after every epoch and publishes
/// progress, then uploads the model and publishes <see cref="TrainingCompleted"/>.
/// An attempt that fails on storage or the broker is retried with back-off (<see cref="TrainerOptions.RetryDelay"/>);
/// after <see cref="TrainerOptions.MaxConsecutiveFailures"/> failures in a row with no epoch finished in between, the
/// run is failed with a reason naming the step and blob, and its request dropped.
/// </summary>
public sealed class TrainingJobs(IBlobStore blobs, RunStateStore states, IBus bus, ServiceWorkOptions work, TrainerOptions options,
    ILogger<TrainingJobs> logger)
{
    private IBus Bus => bus;

    private RunStateStore States => states;

    private static readonly Histogram<double> EpochSeconds = CremaDTelemetry.TrainingMeter.CreateHistogram<double>(
        "cremad.training.epoch.duration", "s", "Wall-clock time of a training epoch.");

    // The latest epoch's figures as gauges (tagged with the run and, for loss and accuracy, the partition), so the Aspire
    // dashboard's metrics page plots a run's learning curves next to the services' own meters.
    internal static readonly Gauge<double> EpochLoss = CremaDTelemetry.TrainingMeter.CreateGauge<double>(
        "cremad.training.loss", null, "Mean loss of the latest epoch (tag cremad.partition: train or validation).");

    internal static readonly Gauge<double> EpochAccuracy = CremaDTelemetry.TrainingMeter.CreateGauge<double>(
        "cremad.training.accuracy", null, "Accuracy (0..1) of the latest epoch (tag cremad.partition: train or validation).");

    internal static readonly Gauge<double> LearningRate = CremaDTelemetry.TrainingMeter.CreateGauge<double>(
        "cremad.training.learning_rate", null, "Learning rate of the latest epoch.");

    /// <summary>Failed attempts in a row per request key (this worker's memory: a restarted trainer starts counting afresh).</summary>
    private readonly ConcurrentDictionary<string, AttemptFailures> _failures = new(StringComparer.Ordinal);

    /// <param name="Count">Consecutive failed attempts.</param>
    /// <param name="RetryAt">No attempt before this time.</param>
    /// <param name="Reported">The run has been failed (RunFailed published): it is not trained again, only its request dropped.</param>
    private sealed record AttemptFailures(int Count, DateTimeOffset RetryAt, TrainingStepException Last, bool Reported);

    /// <summary>
    /// Looks at every pending request once; returns how many trainings this worker ran to the end. A request whose
    /// attempt fails is recorded and retried on a later pass (after its back-off), without holding up the others.
    /// </summary>
    public async Task<int> RunPendingAsync(CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        await foreach (var blob in blobs.ListAsync(TrainingRequests.RequestsPrefix, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(blob.Key);
        }
        foreach (var gone in _failures.Keys.Except(keys, StringComparer.Ordinal)) _failures.TryRemove(gone, out _);

        var done = 0;
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_failures.TryGetValue(key, out var failures))
            {
                if (DateTimeOffset.UtcNow < failures.RetryAt) continue;
                if (failures.Count >= options.MaxConsecutiveFailures)
                {
                    await GiveUpAsync(key, failures, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }
            try
            {
                if (await TryRunAsync(key, cancellationToken).ConfigureAwait(false)) done++;
            }
            catch (TrainingStepException e)
            {
                await RecordFailureAsync(key, e, cancellationToken).ConfigureAwait(false);
            }
        }
        return done;
    }

    /// <summary>
    /// Trains the run of one request if no other trainer holds it; false when it was not this worker's to do.
    /// </summary>
    /// <exception cref="TrainingStepException">A storage or broker call failed; the request stays for another attempt.</exception>
    public async Task<bool> TryRunAsync(string requestKey, CancellationToken cancellationToken)
    {
        var request = await StepAsync($"reading the training request '{requestKey}'", async () =>
        {
            try
            {
                return await blobs.ReadJsonAsync<TrainingRequest>(requestKey, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
            }
            catch (BlobNotFoundException)
            {
                return null; // finished by another trainer meanwhile
            }
        }, cancellationToken).ConfigureAwait(false);
        if (request is null)
        {
            _failures.TryRemove(requestKey, out _);
            return false;
        }
        var command = request.Command;
        var status = await StepAsync($"reading '{RunStateStore.StatusKey(command.RunId)}'",
            () => states.GetAsync(command.RunId, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (status is not null && status.Stage.IsTerminal())
        {
            await StepAsync($"deleting the training request '{requestKey}'", () => blobs.DeleteAsync(requestKey, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
            _failures.TryRemove(requestKey, out _);
            return false;
        }

        var leaseKey = TrainingRequests.LeaseKey(command.RunId);
        var lease = await StepAsync($"taking the lease on '{leaseKey}'",
            () => blobs.TryAcquireLeaseAsync(leaseKey, options.LeaseDuration, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (lease is null) return false;
        await using (lease.ConfigureAwait(false))
        {
            // Listed before the lease was ours: another trainer may have finished the run in between.
            if (!await StepAsync($"checking the training request '{requestKey}'", () => blobs.ExistsAsync(requestKey, cancellationToken), cancellationToken)
                    .ConfigureAwait(false))
            {
                return false;
            }
            using var job = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var renewals = new CancellationTokenSource();
            var renewing = RenewAsync(lease, job, renewals.Token);
            try
            {
                await TrainAsync(requestKey, request, job).ConfigureAwait(false);
                _failures.TryRemove(requestKey, out _);
                return true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Stopped from inside: the lease was lost or could not be renewed, or the run was cancelled or failed meanwhile.
                await renewals.CancelAsync().ConfigureAwait(false);
                if (await renewing.ConfigureAwait(false) is { } renewalFailure)
                {
                    throw new TrainingStepException($"renewing the lease on '{leaseKey}'", renewalFailure);
                }
                var latest = await StepAsync($"reading '{RunStateStore.StatusKey(command.RunId)}'",
                    () => states.GetAsync(command.RunId, CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
                if (latest is not null && latest.Stage.IsTerminal())
                {
                    await StepAsync($"deleting the training request '{requestKey}'", () => blobs.DeleteAsync(requestKey, CancellationToken.None),
                        CancellationToken.None).ConfigureAwait(false);
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

    /// <summary>Counts a failed attempt and schedules the next one (exponential back-off); logs what failed.</summary>
    private Task RecordFailureAsync(string requestKey, TrainingStepException failure, CancellationToken cancellationToken)
    {
        var count = (_failures.TryGetValue(requestKey, out var previous) ? previous.Count : 0) + 1;
        var delay = TimeSpan.FromTicks(Math.Min(options.MaxRetryDelay.Ticks,
            (long)Math.Min(long.MaxValue / 2, options.RetryDelay.Ticks * Math.Pow(2, count - 1))));
        var failures = new AttemptFailures(count, DateTimeOffset.UtcNow + delay, failure, Reported: false);
        _failures[requestKey] = failures;
        if (count < options.MaxConsecutiveFailures)
        {
            logger.LogWarning(failure.InnerException, "Training attempt {Count} of {Max} for {Request} failed: {Reason}; retrying in {Delay}.",
                count, options.MaxConsecutiveFailures, requestKey, failure.Message, delay);
            return Task.CompletedTask;
        }
        return GiveUpAsync(requestKey, failures, cancellationToken);
    }

    /// <summary>
    /// The attempts on a request ran out: fails its run with the last error (once) and drops the request. When the
    /// broker or storage refuses that too, the next pass tries again after the back-off, and still does not train.
    /// </summary>
    private async Task GiveUpAsync(string requestKey, AttemptFailures failures, CancellationToken cancellationToken)
    {
        var runId = TrainingRequests.RunIdOf(requestKey);
        var reason = $"Training stopped after {failures.Count} consecutive failed attempts; the last: {failures.Last.Message}";
        try
        {
            if (!failures.Reported)
            {
                if (runId is { } id)
                {
                    logger.LogError(failures.Last.InnerException, "Run {RunId} fails: {Reason}", id, reason);
                    await bus.Publish(new RunFailed(id, RunStage.Training, reason, failures.Last.InnerException?.GetType().FullName, DateTimeOffset.UtcNow),
                        cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    logger.LogError("The request {Request} names no run and cannot be trained: {Reason}", requestKey, reason);
                }
                failures = failures with { Reported = true };
                _failures[requestKey] = failures;
            }
            await blobs.DeleteAsync(requestKey, cancellationToken).ConfigureAwait(false);
            _failures.TryRemove(requestKey, out _);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Could not fail the run of {Request} yet; trying again in {Delay}.", requestKey, options.MaxRetryDelay);
            _failures[requestKey] = failures with { RetryAt = DateTimeOffset.UtcNow + options.MaxRetryDelay };
        }
    }

    /// <summary>
    /// Runs a storage or broker call of a training attempt, turning its failure (anything but this worker being stopped)
    /// into a <see cref="TrainingStepException"/> that names <paramref name="step"/>.
    /// </summary>
    private static async Task<T> StepAsync<T>(string step, Func<Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not TrainingStepException && !(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw new TrainingStepException(step, e);
        }
    }

    private static Task StepAsync(string step, Func<Task> action, CancellationToken cancellationToken) =>
        StepAsync(step, async () =>
        {
            await action().ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>An epoch finished and its checkpoint is stored: the run is moving, so earlier failures no longer count.</summary>
    private void OnProgress(string requestKey) => _failures.TryRemove(requestKey, out _);

    /// <summary>
    /// Renews the lease every third of its duration until <paramref name="stop"/>; cancels <paramref name="job"/> when it
    /// cannot. Returns the storage error that stopped the renewals (null when stopped, or when the lease was lost to
    /// another trainer, which is not a failure of this run).
    /// </summary>
    private async Task<Exception?> RenewAsync(IBlobLease lease, CancellationTokenSource job, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(lease.Duration / 3, stop).ConfigureAwait(false);
                await lease.RenewAsync(stop).ConfigureAwait(false);
            }
            return null;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return null;
        }
        catch (BlobLeaseLostException e)
        {
            // Another trainer owns the run now; this one must not write over its checkpoints.
            logger.LogWarning(e, "Lost the lease on {Key}; stopping this training.", lease.Key);
            await job.CancelAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not renew the lease on {Key}; stopping this training before it expires.", lease.Key);
            await job.CancelAsync().ConfigureAwait(false);
            return e;
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
        if (await StepAsync($"checking for '{resultKey}'", () => blobs.ExistsAsync(resultKey, cancellationToken), cancellationToken).ConfigureAwait(false))
        {
            // Trained already; the trainer stopped before it could publish or clear the request.
            var stored = await StepAsync($"reading '{resultKey}'",
                () => blobs.ReadJsonAsync<TrainingCompleted>(resultKey, ServiceJson.Options, cancellationToken), cancellationToken).ConfigureAwait(false);
            await StepAsync("publishing TrainingCompleted", () => bus.Publish(stored, cancellationToken), cancellationToken).ConfigureAwait(false);
            await StepAsync($"deleting the training request '{requestKey}'", () => blobs.DeleteAsync(requestKey, cancellationToken), cancellationToken)
                .ConfigureAwait(false);
            return;
        }

        var clock = Stopwatch.StartNew();
        FeatureStore store;
        using (var download = CremaDTelemetry.Training.StartRunActivity("blob download features", runId))
        {
            download?.SetTag("cremad.blob_prefix", command.FeatureStorePrefix);
            store = await StepAsync($"staging the feature store '{command.FeatureStorePrefix}'", () => BlobFeatureStore.StageAsync(blobs,
                command.FeatureStorePrefix, Path.Combine(work.WorkDirectory, "features", BlobFeatureStore.LocalFolderName(command.FeatureStorePrefix)),
                cancellationToken), cancellationToken).ConfigureAwait(false);
            download?.SetTag("cremad.clips", store.Clips.Count);
        }

        var modelDirectory = Path.Combine(work.WorkDirectory, "runs", runId.ToString("N"), "model");
        if (Directory.Exists(modelDirectory)) Directory.Delete(modelDirectory, recursive: true);
        Directory.CreateDirectory(modelDirectory);
        var checkpointKey = modelPrefix + ModelFiles.Checkpoint;
        var resume = await StepAsync($"checking for '{checkpointKey}'", () => blobs.ExistsAsync(checkpointKey, cancellationToken), cancellationToken)
            .ConfigureAwait(false);
        if (resume)
        {
            logger.LogInformation("Run {RunId}: resuming training from the checkpoint under {Prefix}.", runId, modelPrefix);
            using var download = CremaDTelemetry.Training.StartRunActivity("blob download checkpoint", runId);
            await StepAsync($"downloading the checkpointed model under '{modelPrefix}'",
                () => blobs.DownloadDirectoryAsync(modelPrefix, modelDirectory, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        activity?.SetTag("cremad.resumed", resume);

        var trainingOptions = command.Config.ToTrainingOptions(options.TrainingThreads);
        var observer = new Observer(this, requestKey, runId, modelDirectory, modelPrefix, trainingOptions.Epochs, activity?.Context ?? parent, job);
        TrainingResult result;
        try
        {
            // CPU-bound and synchronous (TorchSharp dispose scopes are thread-static): on a thread of its own.
            result = await Task.Factory.StartNew(
                () => TrainingStage.Run(store, modelDirectory, trainingOptions, resume, observer, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && e is not TrainingStepException)
        {
            // The training itself failed (unusable data, a model error): retrying cannot help.
            logger.LogError(e, "Training of run {RunId} failed.", runId);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            await StepAsync("publishing RunFailed", () => bus.Publish(new RunFailed(runId, RunStage.Training, $"Training failed: {e.Message}",
                e.GetType().FullName, DateTimeOffset.UtcNow), CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
            await StepAsync($"deleting the training request '{requestKey}'", () => blobs.DeleteAsync(requestKey, CancellationToken.None),
                CancellationToken.None).ConfigureAwait(false);
            return;
        }

        await UploadModelAsync(runId, modelDirectory, modelPrefix, cancellationToken).ConfigureAwait(false);
        var completed = new TrainingCompleted(runId, modelPrefix, modelPrefix + ArtifactNames.History, result.EpochsRun, result.BestEpoch,
            Math.Clamp(result.BestValidationAccuracy, 0, 1), result.StoppedEarly, clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow);
        await StepAsync($"writing '{resultKey}'",
            () => blobs.WriteJsonAsync(resultKey, completed, ServiceJson.Options, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        await StepAsync("publishing TrainingCompleted", () => bus.Publish(completed, cancellationToken), cancellationToken).ConfigureAwait(false);
        await StepAsync($"deleting the training request '{requestKey}'", () => blobs.DeleteAsync(requestKey, cancellationToken), cancellationToken)
            .ConfigureAwait(false);
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
            var key = modelPrefix + name;
            await StepAsync($"uploading '{key}'", () => blobs.UploadFileAsync(key, path, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        upload?.SetTag("cremad.files", files.Count);
        upload?.SetTag("cremad.bytes", bytes);
    }

    /// <summary>Runs on the training thread: checkpoints to blob storage and publishes progress after every epoch.</summary>
    /// <remarks>A storage or broker failure in a callback surfaces as <see cref="TrainingStepException"/>: the attempt is retried, the run not failed.</remarks>
    private sealed class Observer(TrainingJobs jobs, string requestKey, Guid runId, string modelDirectory, string modelPrefix, int maxEpochs,
        ActivityContext parent, CancellationTokenSource job) : ITrainingObserver
    {
        private readonly CancellationToken cancellationToken = job.Token;

        public void OnTrainingStarted(CremaD.Learning.TrainingStarted started) => Guard("publishing TrainingStarted", () =>
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
            var run = new KeyValuePair<string, object?>(CremaDTelemetry.RunIdTag, runId.ToString("D"));
            var train = new KeyValuePair<string, object?>("cremad.partition", "train");
            var validation = new KeyValuePair<string, object?>("cremad.partition", "validation");
            EpochSeconds.Record(record.Seconds, run);
            EpochLoss.Record(record.TrainLoss, run, train);
            EpochLoss.Record(record.ValidationLoss, run, validation);
            EpochAccuracy.Record(record.TrainAccuracy, run, train);
            EpochAccuracy.Record(record.ValidationAccuracy, run, validation);
            LearningRate.Record(record.LearningRate, run);
            Guard($"uploading the model after epoch {record.Epoch}", () => jobs.UploadModelAsync(runId, modelDirectory, modelPrefix, cancellationToken));
            jobs.OnProgress(requestKey);
            var epochProgress = new ContractEpoch(record.Epoch, record.TrainLoss, record.TrainAccuracy, record.ValidationLoss,
                record.ValidationAccuracy, record.LearningRate, record.Seconds, progress.BestEpoch, Math.Clamp(progress.BestValidationAccuracy, 0, 1));
            Guard($"publishing the progress of epoch {record.Epoch}",
                () => jobs.Bus.Publish(new TrainingEpochCompleted(runId, epochProgress, maxEpochs, DateTimeOffset.UtcNow), cancellationToken));

            // A run cancelled or failed meanwhile is not trained further; the worker then drops its request.
            if (!progress.Stopping)
            {
                RunStatus? status = null;
                Guard($"reading '{RunStateStore.StatusKey(runId)}'", async () => status = await jobs.States.GetAsync(runId, cancellationToken).ConfigureAwait(false));
                if (status is not null && status.Stage.IsTerminal()) job.Cancel();
            }
        }

        private void Guard(string step, Func<Task> action) => StepAsync(step, action, cancellationToken).GetAwaiter().GetResult();
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
                // The work list could not be read (storage unavailable): nothing to attribute to a run, so look again at the
                // next poll. A failed attempt on one run is counted, and bounded, by TrainingJobs.
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
