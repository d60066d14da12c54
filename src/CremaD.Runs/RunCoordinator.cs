using CremaD.Audio;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using CremaD.Telemetry;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace CremaD.Runs;

/// <summary>
/// Drives a run through its stages: plans the feature shards of a submitted run, completes the feature store when
/// every shard has reported (normalisation reduced from the shards' statistics), hands the run to the trainer and then
/// to the evaluator, and records the outcome. All state is the run's status.json (<see cref="RunStateStore"/>): every
/// step folds its event there first and then derives what to send from the folded status, so a redelivered message
/// redoes the step (idempotently) and a restarted coordinator carries on where the status says the run is.
/// </summary>
public sealed class RunCoordinator(IBlobStore blobs, RunStateStore states, ILogger<RunCoordinator> logger)
{
    /// <summary>Accepts a run: lists the dataset, plans the shards (or reuses a complete feature store) and sends the work.</summary>
    public async Task SubmitAsync(SubmitRun command, ConsumeContext context)
    {
        var ct = context.CancellationToken;
        using var activity = CremaDTelemetry.Pipeline.StartRunActivity("plan run", command.RunId);
        var (_, current) = await states.UpdateAsync(command.RunId, status => status ?? RunStateStore.Pending(command), ct).ConfigureAwait(false);
        if (current is null || current.Stage.IsTerminal()) return;
        if (current.Features.Ready)
        {
            // Sent again (a duplicate, or the reconciler re-driving a run): what comes after the features, once more.
            await ContinueAfterFeaturesAsync(current, context, context).ConfigureAwait(false);
            return;
        }

        BlobDatasetListing listing;
        try
        {
            listing = await BlobDataset.ReadAsync(blobs, command.Dataset, ct).ConfigureAwait(false);
        }
        catch (DatasetUnavailableException e)
        {
            logger.LogWarning("Run {RunId} fails: {Reason}", command.RunId, e.Message);
            await FailAsync(command.RunId, RunStage.Submitted, e.Message, e.GetType().FullName, context).ConfigureAwait(false);
            return;
        }

        var storePrefix = BlobLayout.FeatureStorePrefix(listing.Fingerprint, FeatureRecipe.Version);
        var reuse = await BlobFeatureStore.IsCompleteAsync(blobs, storePrefix, ct).ConfigureAwait(false);
        var shardCount = reuse ? 0 : BlobLayout.ShardCount(listing.Clips.Count, command.Config.ShardSize);
        activity?.SetTag("cremad.clips", listing.Clips.Count);
        activity?.SetTag("cremad.shard_count", shardCount);
        activity?.SetTag("cremad.features_reused", reuse);

        var submitted = new RunSubmitted(command.RunId, command.Dataset, command.Config, command.Name, listing.Fingerprint, storePrefix,
            listing.Clips.Count, shardCount, listing.Rejected, command.SubmittedAt, DateTimeOffset.UtcNow);
        var status = await RecordAsync(submitted, context).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal()) return;

        if (reuse)
        {
            var completed = await BlobFeatureStore.ReadCompletedAsync(blobs, storePrefix, ct).ConfigureAwait(false);
            // The store names its rejected files by their path in the dataset; this run's dataset may live under another prefix.
            var audioRejections = completed.Rejected.Where(r => r.Stage == RejectionStage.Audio)
                .Select(r => r with { Key = BlobLayout.FileKey(command.Dataset.Prefix, r.Key) }).ToList();
            await FeaturesReadyAsync(command.RunId, listing.Fingerprint, completed, reused: true, context, audioRejections).ConfigureAwait(false);
            return;
        }

        await blobs.WriteJsonAsync(BlobLayout.FeatureStoreDatasetKey(storePrefix), BlobDatasetDescription.Of(listing, blobs.Location), ServiceJson.Options,
            cancellationToken: ct).ConfigureAwait(false);
        var done = status.Features.CompletedShards.ToHashSet();
        if (done.Count >= shardCount)
        {
            // Every shard reported, but the store was not completed (the coordinator stopped in between): complete it now.
            await CompleteFeaturesAsync(status, context).ConfigureAwait(false);
            return;
        }
        var sender = await context.GetSendEndpoint(new Uri($"queue:{QueueNames.ExtractFeatureShard}")).ConfigureAwait(false);
        for (var shard = 0; shard < shardCount; shard++)
        {
            if (done.Contains(shard)) continue;
            var clips = listing.Clips.Skip(shard * command.Config.ShardSize).Take(command.Config.ShardSize)
                .Select(c => new ShardClip(c.Key, c.Entry.Id, c.Entry.Label, c.Entry.Partition.ToContract(), c.Entry.Actor, c.Packed))
                .ToList();
            await sender.Send(new ExtractFeatureShard(command.RunId, command.Dataset, listing.Fingerprint, FeatureRecipe.Version, shard, shardCount,
                clips, BlobLayout.ShardPrefix(storePrefix, shard, shardCount, command.Config.ShardSize)), ct).ConfigureAwait(false);
        }
        logger.LogInformation("Run {RunId}: {Clips} clips of {Dataset} planned in {Shards} shards into {Store}",
            command.RunId, listing.Clips.Count, command.Dataset.Prefix, shardCount, storePrefix);
    }

    /// <summary>Records a shard; when it was the last one, completes the feature store and sends the run to training.</summary>
    public async Task OnShardExtractedAsync(FeatureShardExtracted shard, ConsumeContext context)
    {
        var ct = context.CancellationToken;
        var (_, status) = await states.ApplyAsync(shard, ct).ConfigureAwait(false);
        if (status is null)
        {
            // The status is written before any shard is sent, so this is a shard of a run this storage does not know.
            logger.LogWarning("Shard {Shard} of unknown run {RunId} ignored.", shard.ShardIndex, shard.RunId);
            return;
        }
        if (status.Stage.IsTerminal()) return;
        if (status.Features.Ready)
        {
            // A shard report redelivered after the features were recorded ready: the process may have died before
            // TrainModel left, so it is sent again unless the trainer has been heard from (a duplicate is harmless).
            if (status.Timestamps.TrainingStartedAt is null) await ContinueAfterFeaturesAsync(status, context, context).ConfigureAwait(false);
            return;
        }
        if (status.Features.ShardCount == 0 || status.Features.CompletedShards.Count < status.Features.ShardCount) return;
        await CompleteFeaturesAsync(status, context).ConfigureAwait(false);
    }

    /// <summary>Completes the feature store of a run whose shards have all reported, then sends the run to training.</summary>
    private async Task CompleteFeaturesAsync(RunStatus status, ConsumeContext context)
    {
        var features = status.Features;
        using var activity = CremaDTelemetry.Features.StartRunActivity("normalisation reduce", status.RunId);
        activity?.SetTag("cremad.shard_count", features.ShardCount);
        CompletedFeatureStore completed;
        try
        {
            completed = await BlobFeatureStore.CompleteAsync(blobs, features.FeatureStorePrefix!, features.ShardCount, status.Config.ShardSize,
                context.CancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            await FailAsync(status.RunId, RunStage.Features, e.Message, e.GetType().FullName, context).ConfigureAwait(false);
            return;
        }
        activity?.SetTag("cremad.train_frames", completed.TrainFrames);
        await FeaturesReadyAsync(status.RunId, completed.Metadata.DatasetFingerprint, completed, reused: false, context).ConfigureAwait(false);
    }

    /// <summary>
    /// What follows the features, derived from the folded status: training (TrainModel; the trainer's work list takes a
    /// duplicate once, and a run it trained already makes it publish TrainingCompleted again, which moves the run on to
    /// evaluation), or, once evaluated, the run's completion. Used when a message is redelivered and by the reconciler.
    /// </summary>
    public async Task ContinueAfterFeaturesAsync(RunStatus status, ISendEndpointProvider sender, IPublishEndpoint publisher,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(status);
        if (status.Stage.IsTerminal() || !status.Features.Ready || status.Features.FeatureStorePrefix is null) return;
        if (status.Evaluation is not null)
        {
            await CompleteAsync(status, publisher, cancellationToken).ConfigureAwait(false);
            return;
        }
        var endpoint = await sender.GetSendEndpoint(new Uri($"queue:{QueueNames.TrainModel}")).ConfigureAwait(false);
        await endpoint.Send(new TrainModel(status.RunId, status.Features.FeatureStorePrefix, BlobFeatureStore.NormalisationKey(status.Features.FeatureStorePrefix),
            status.Config, BlobLayout.RunPrefix(status.RunId)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records the end of training and sends the model to evaluation, with what the evaluation's run.json reports beyond
    /// the model (the recipe, the training's outcome and device, the stages' timestamps), from the folded status.
    /// </summary>
    public async Task OnTrainingCompletedAsync(TrainingCompleted completed, ConsumeContext context)
    {
        await RecoverLostEpochsAsync(completed, context.CancellationToken).ConfigureAwait(false);
        var (_, status) = await states.ApplyAsync(completed, context.CancellationToken).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal() || status.Evaluation is not null || status.Features.FeatureStorePrefix is null) return;
        var training = new TrainingSummary(status.Training.Device ?? "unknown", completed.EpochsRun, completed.BestEpoch,
            completed.BestValidationAccuracy, completed.StoppedEarly);
        var endpoint = await context.GetSendEndpoint(new Uri($"queue:{QueueNames.EvaluateModel}")).ConfigureAwait(false);
        await endpoint.Send(new EvaluateModel(completed.RunId, completed.ModelPrefix, status.Features.FeatureStorePrefix,
            BlobLayout.ArtifactsPrefix(completed.RunId), status.Config, training, status.Timestamps), context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>The most of a history.json the coordinator reads (1,000 epochs take ~200 KB).</summary>
    public const int MaxHistoryBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Epoch reports that never arrived (published while the broker was away, or folded while storage was) are taken from
    /// the model's history.json before the training is recorded complete (after that, epoch reports are ignored), so
    /// the status holds every epoch. The file comes from storage: it is size-capped and parsed as data; when it cannot be
    /// read the status keeps the epochs it has.
    /// </summary>
    private async Task RecoverLostEpochsAsync(TrainingCompleted completed, CancellationToken cancellationToken)
    {
        var status = await states.GetAsync(completed.RunId, cancellationToken).ConfigureAwait(false);
        if (status is null || status.Training.Completed || status.Training.History.Count >= completed.EpochsRun) return;
        if (!completed.HistoryKey.StartsWith(BlobLayout.RunPrefix(completed.RunId), StringComparison.Ordinal)) return;
        IReadOnlyList<Evaluation.EpochRecord> history;
        try
        {
            var info = await blobs.GetInfoAsync(completed.HistoryKey, cancellationToken).ConfigureAwait(false);
            if (info is null || info.Size > MaxHistoryBytes) return;
            history = Evaluation.TrainingHistory.FromJson(await blobs.ReadTextAsync(completed.HistoryKey, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (e is InvalidDataException or BlobNotFoundException)
        {
            logger.LogWarning(e, "Run {RunId}: the history at {Key} could not be read; the status keeps the epochs it has.", completed.RunId, completed.HistoryKey);
            return;
        }
        var known = status.Training.History.Select(h => h.Epoch).ToHashSet();
        var events = new List<IRunEvent>();
        int best = 0;
        double bestAccuracy = double.NegativeInfinity;
        foreach (var record in history.OrderBy(r => r.Epoch))
        {
            // The trainer's rule: a strictly better validation accuracy makes a new best epoch.
            if (record.ValidationAccuracy > bestAccuracy)
            {
                best = record.Epoch;
                bestAccuracy = record.ValidationAccuracy;
            }
            if (known.Contains(record.Epoch) || record.Epoch < 1 || record.Epoch > status.Config.Epochs) continue;
            var epoch = new EpochProgress(record.Epoch, record.TrainLoss, Math.Clamp(record.TrainAccuracy, 0, 1), record.ValidationLoss,
                Math.Clamp(record.ValidationAccuracy, 0, 1), record.LearningRate, record.Seconds, best, Math.Clamp(bestAccuracy, 0, 1));
            if (epoch.FindProblems().Count == 0) events.Add(new TrainingEpochCompleted(completed.RunId, epoch, status.Config.Epochs, completed.Timestamp));
        }
        if (events.Count == 0) return;
        logger.LogInformation("Run {RunId}: {Count} epoch reports that never arrived recovered from {Key}.", completed.RunId, events.Count, completed.HistoryKey);
        await states.UpdateAsync(completed.RunId, current => current?.ApplyAll(events), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records the evaluation and completes the run.</summary>
    public async Task OnEvaluationCompletedAsync(EvaluationCompleted evaluated, ConsumeContext context)
    {
        var (_, status) = await states.ApplyAsync(evaluated, context.CancellationToken).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal() || status.Evaluation is null) return;
        await CompleteAsync(status, context, context.CancellationToken).ConfigureAwait(false);
    }

    private async Task CompleteAsync(RunStatus status, IPublishEndpoint publisher, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        await RecordAsync(new RunCompleted(status.RunId, BlobLayout.RunPrefix(status.RunId), status.Evaluation!.Accuracy, status.Evaluation.MacroF1,
            Math.Max(1, status.Training.BestEpoch), (now - status.Timestamps.SubmittedAt).TotalSeconds, now), publisher, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Folds an event that asks for no next step (progress, failures reported by the services).</summary>
    public Task ApplyAsync(IRunEvent runEvent, CancellationToken cancellationToken) => states.ApplyAsync(runEvent, cancellationToken);

    /// <summary>Cancels a run that has not finished.</summary>
    public async Task CancelAsync(CancelRun command, ConsumeContext context)
    {
        var status = await states.GetAsync(command.RunId, context.CancellationToken).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal()) return;
        await RecordAsync(new RunCancelled(command.RunId, status.Stage, command.Reason, DateTimeOffset.UtcNow), context).ConfigureAwait(false);
    }

    /// <summary>
    /// A command failed for good (malformed, its consumer kept failing, or its delivery limit was reached): the run fails
    /// with the reason. One that failed on an outage of storage or the broker (<see cref="TransientFaults"/>) does not. A run id that
    /// is not even present cannot be attributed and is only logged (the message stays in the error queue).
    /// </summary>
    public async Task OnCommandFaultAsync<T>(Fault<T> fault, RunStage stage, ConsumeContext context) where T : class, IRunMessage
    {
        var runId = fault.Message?.RunId ?? Guid.Empty;
        var exception = fault.Exceptions?.FirstOrDefault();
        var reason = $"{typeof(T).Name} failed: {exception?.Message ?? "unknown error"}";
        if (runId == Guid.Empty)
        {
            logger.LogError("A {Command} without a run id failed and cannot be attributed to a run: {Reason}", typeof(T).Name, reason);
            return;
        }
        if (exception is not null && TransientFaults.IsTransient(exception))
        {
            // Storage or the broker was away for longer than the retries: the command's work is not wrong, so the run
            // is not failed; it waits, and the reconciler sends the command again once the run has made no progress
            // for a while (RunReconciler).
            logger.LogWarning("{Command} of run {RunId} gave up on an outage ({Reason}); the reconciler will send it again.", typeof(T).Name, runId, reason);
            return;
        }
        if (fault.Message is SubmitRun submit && submit.Dataset is not null && submit.Config is not null)
        {
            await states.UpdateAsync(runId, status => status ?? RunStateStore.Pending(submit), context.CancellationToken).ConfigureAwait(false);
        }
        await FailAsync(runId, stage, reason, exception?.ExceptionType, context).ConfigureAwait(false);
    }

    private async Task FeaturesReadyAsync(Guid runId, string fingerprint, CompletedFeatureStore store, bool reused, ConsumeContext context,
        IReadOnlyList<ClipRejection>? reusedAudioRejections = null)
    {
        var ready = new FeaturesReady(runId, store.Prefix, store.NormalisationKey, fingerprint,
            store.TrainClips + store.ValidationClips + store.TestClips, store.TrainClips, store.ValidationClips, store.TestClips,
            store.Rejected.Count, store.TrainFrames, reused, DateTimeOffset.UtcNow, reusedAudioRejections);
        var status = await RecordAsync(ready, context).ConfigureAwait(false);
        if (status is null) return;
        await ContinueAfterFeaturesAsync(status, context, context, context.CancellationToken).ConfigureAwait(false);
    }

    private async Task FailAsync(Guid runId, RunStage stage, string reason, string? exceptionType, ConsumeContext context)
    {
        var status = await states.GetAsync(runId, context.CancellationToken).ConfigureAwait(false);
        if (status is not null && status.Stage.IsTerminal()) return;
        await RecordAsync(new RunFailed(runId, stage, reason, exceptionType, DateTimeOffset.UtcNow), context).ConfigureAwait(false);
    }

    /// <summary>Folds the event into the run's status, then publishes it for everyone else; returns the folded status.</summary>
    private Task<RunStatus?> RecordAsync<T>(T runEvent, ConsumeContext context) where T : class, IRunEvent =>
        RecordAsync(runEvent, context, context.CancellationToken);

    private async Task<RunStatus?> RecordAsync<T>(T runEvent, IPublishEndpoint publisher, CancellationToken cancellationToken) where T : class, IRunEvent
    {
        var (_, status) = await states.ApplyAsync(runEvent, cancellationToken).ConfigureAwait(false);
        await publisher.Publish(runEvent, cancellationToken).ConfigureAwait(false);
        return status;
    }
}
