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
        // A duplicate of a run already past its features: the later stages carry it on.
        if (current is null || current.Stage.IsTerminal() || current.Features.Ready) return;

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
            await FeaturesReadyAsync(command.RunId, listing.Fingerprint, completed, reused: true, context).ConfigureAwait(false);
            return;
        }

        await blobs.WriteJsonAsync(BlobLayout.FeatureStoreDatasetKey(storePrefix), BlobDatasetDescription.Of(listing, blobs.Location), ServiceJson.Options,
            cancellationToken: ct).ConfigureAwait(false);
        var done = status.Features.CompletedShards.ToHashSet();
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
        var features = status.Features;
        if (status.Stage.IsTerminal() || features.Ready || features.ShardCount == 0 || features.CompletedShards.Count < features.ShardCount) return;

        using var activity = CremaDTelemetry.Features.StartRunActivity("normalisation reduce", shard.RunId);
        activity?.SetTag("cremad.shard_count", features.ShardCount);
        CompletedFeatureStore completed;
        try
        {
            completed = await BlobFeatureStore.CompleteAsync(blobs, features.FeatureStorePrefix!, features.ShardCount, status.Config.ShardSize, ct)
                .ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            await FailAsync(shard.RunId, RunStage.Features, e.Message, e.GetType().FullName, context).ConfigureAwait(false);
            return;
        }
        activity?.SetTag("cremad.train_frames", completed.TrainFrames);
        await FeaturesReadyAsync(shard.RunId, completed.Metadata.DatasetFingerprint, completed, reused: false, context).ConfigureAwait(false);
    }

    /// <summary>
    /// Records the end of training and sends the model to evaluation, with what the evaluation's run.json reports beyond
    /// the model (the recipe, the training's outcome and device, the stages' timestamps), from the folded status.
    /// </summary>
    public async Task OnTrainingCompletedAsync(TrainingCompleted completed, ConsumeContext context)
    {
        var (_, status) = await states.ApplyAsync(completed, context.CancellationToken).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal() || status.Evaluation is not null || status.Features.FeatureStorePrefix is null) return;
        var training = new TrainingSummary(status.Training.Device ?? "unknown", completed.EpochsRun, completed.BestEpoch,
            completed.BestValidationAccuracy, completed.StoppedEarly);
        var endpoint = await context.GetSendEndpoint(new Uri($"queue:{QueueNames.EvaluateModel}")).ConfigureAwait(false);
        await endpoint.Send(new EvaluateModel(completed.RunId, completed.ModelPrefix, status.Features.FeatureStorePrefix,
            BlobLayout.ArtifactsPrefix(completed.RunId), status.Config, training, status.Timestamps), context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records the evaluation and completes the run.</summary>
    public async Task OnEvaluationCompletedAsync(EvaluationCompleted evaluated, ConsumeContext context)
    {
        var (_, status) = await states.ApplyAsync(evaluated, context.CancellationToken).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal() || status.Evaluation is null) return;
        var now = DateTimeOffset.UtcNow;
        await RecordAsync(new RunCompleted(evaluated.RunId, BlobLayout.RunPrefix(evaluated.RunId), evaluated.Accuracy, evaluated.MacroF1,
            Math.Max(1, status.Training.BestEpoch), (now - status.Timestamps.SubmittedAt).TotalSeconds, now), context).ConfigureAwait(false);
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
    /// A command failed for good (malformed, or its consumer kept failing): the run fails with the reason. A run id that
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
        if (fault.Message is SubmitRun submit && submit.Dataset is not null && submit.Config is not null)
        {
            await states.UpdateAsync(runId, status => status ?? RunStateStore.Pending(submit), context.CancellationToken).ConfigureAwait(false);
        }
        await FailAsync(runId, stage, reason, exception?.ExceptionType, context).ConfigureAwait(false);
    }

    private async Task FeaturesReadyAsync(Guid runId, string fingerprint, CompletedFeatureStore store, bool reused, ConsumeContext context)
    {
        var ready = new FeaturesReady(runId, store.Prefix, store.NormalisationKey, fingerprint,
            store.TrainClips + store.ValidationClips + store.TestClips, store.TrainClips, store.ValidationClips, store.TestClips,
            store.Rejected.Count, store.TrainFrames, reused, DateTimeOffset.UtcNow);
        var status = await RecordAsync(ready, context).ConfigureAwait(false);
        if (status is null || status.Stage.IsTerminal()) return;
        var endpoint = await context.GetSendEndpoint(new Uri($"queue:{QueueNames.TrainModel}")).ConfigureAwait(false);
        await endpoint.Send(new TrainModel(runId, store.Prefix, store.NormalisationKey, status.Config, BlobLayout.RunPrefix(runId)),
            context.CancellationToken).ConfigureAwait(false);
    }

    private async Task FailAsync(Guid runId, RunStage stage, string reason, string? exceptionType, ConsumeContext context)
    {
        var status = await states.GetAsync(runId, context.CancellationToken).ConfigureAwait(false);
        if (status is not null && status.Stage.IsTerminal()) return;
        await RecordAsync(new RunFailed(runId, stage, reason, exceptionType, DateTimeOffset.UtcNow), context).ConfigureAwait(false);
    }

    /// <summary>Folds the event into the run's status, then publishes it for everyone else; returns the folded status.</summary>
    private async Task<RunStatus?> RecordAsync<T>(T runEvent, ConsumeContext context) where T : class, IRunEvent
    {
        var (_, status) = await states.ApplyAsync(runEvent, context.CancellationToken).ConfigureAwait(false);
        await context.Publish(runEvent, context.CancellationToken).ConfigureAwait(false);
        return status;
    }
}
