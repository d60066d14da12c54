using System.Text.Json.Serialization;

namespace CremaD.Contracts;

/// <summary>
/// Where a run is. The order of the values is the order of the lifecycle; <see cref="Completed"/>,
/// <see cref="Failed"/> and <see cref="Cancelled"/> are terminal. Wire names are the lower-case member names.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunStage>))]
public enum RunStage
{
    /// <summary>Accepted; the dataset is being listed and the shards planned.</summary>
    [JsonStringEnumMemberName("submitted")] Submitted,

    /// <summary>Feature shards are being extracted, or the normalisation statistics reduced.</summary>
    [JsonStringEnumMemberName("features")] Features,

    /// <summary>Features are ready and the model is being (or about to be) trained.</summary>
    [JsonStringEnumMemberName("training")] Training,

    /// <summary>The model is trained and is being (or about to be) evaluated on the test partition.</summary>
    [JsonStringEnumMemberName("evaluation")] Evaluation,

    [JsonStringEnumMemberName("completed")] Completed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("cancelled")] Cancelled,
}

public static class RunStages
{
    /// <summary>True for <see cref="RunStage.Completed"/>, <see cref="RunStage.Failed"/> and <see cref="RunStage.Cancelled"/>.</summary>
    public static bool IsTerminal(this RunStage stage) => stage is RunStage.Completed or RunStage.Failed or RunStage.Cancelled;
}

// Events: something happened; published by the service that did it. Each says who reads it: the coordinator folds the
// services' events into the run's status (which the runs API serves) and drives the next stage; the trainer and the
// evaluation service stop a run's work on RunCancelled and RunFailed. The coordinator's own events are folded into the
// status before they are published, so no service consumes them: they are for subscribers outside the pipeline
// (a notifier, an audit log). Delivery is at least once and not ordered across publishers, so consumers must
// tolerate duplicates and late arrivals (RunStatus.Apply does).

/// <summary>
/// The coordinator accepted a run and planned its features: <see cref="ShardCount"/> shards of
/// <see cref="RunConfig.ShardSize"/> clips, or none when the feature store already holds the dataset
/// (then <see cref="FeaturesReady"/> follows directly). Consumed by no service: the coordinator folded it into the
/// run's status before publishing it (outside subscribers only).
/// </summary>
/// <param name="Clips">Clips of the dataset that will be extracted (the dataset's own rejections excluded).</param>
/// <param name="RejectedClips">Files the dataset description already left out (stage "dataset").</param>
public sealed record RunSubmitted(
    Guid RunId,
    DatasetRef Dataset,
    RunConfig Config,
    string? Name,
    string DatasetFingerprint,
    string FeatureStorePrefix,
    int Clips,
    int ShardCount,
    IReadOnlyList<ClipRejection> RejectedClips,
    DateTimeOffset SubmittedAt,
    DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems() =>
        new Problems().RunId(RunId)
            .Required("dataset", Dataset).AddNested("dataset", Dataset?.FindProblems())
            .Required("config", Config).AddNested("config", Config?.FindProblems())
            .NotBlank("datasetFingerprint", DatasetFingerprint)
            .BlobPath("featureStorePrefix", FeatureStorePrefix, isPrefix: true)
            .AtLeast("clips", Clips, 0)
            .AtLeast("shardCount", ShardCount, 0)
            .Each("rejectedClips", RejectedClips, r => r.FindProblems())
            .List;
}

/// <summary>
/// A feature shard is done (feature service → coordinator, which folds it into the run's status and completes the
/// feature store after the last shard). Its clips' matrices are in one blob,
/// <see cref="FeaturesKey"/>, at the offsets <see cref="Clips"/> lists; <see cref="TrainStatistics"/>
/// summarise its TRAIN clips for the normalisation, which the coordinator reduces over all shards.
/// </summary>
/// <param name="FeaturesKey">Blob key of the shard's float32 matrices, concatenated in <see cref="Clips"/> order.</param>
/// <param name="Clips">The clips extracted, in dataset order.</param>
/// <param name="RejectedClips">Clips of the shard whose audio could not be used, and why.</param>
/// <param name="AudioSeconds">Duration of the audio extracted.</param>
/// <param name="Seconds">Wall-clock time the shard took.</param>
public sealed record FeatureShardExtracted(
    Guid RunId,
    int ShardIndex,
    int ShardCount,
    string FeaturesKey,
    IReadOnlyList<ExtractedClip> Clips,
    IReadOnlyList<ClipRejection> RejectedClips,
    BandMoments TrainStatistics,
    double AudioSeconds,
    double Seconds,
    DateTimeOffset Timestamp) : IRunEvent
{
    /// <summary>Clips extracted (not serialised: it is <see cref="Clips"/>' count).</summary>
    [JsonIgnore] public int Extracted => Clips?.Count ?? 0;

    /// <summary>Clips rejected (not serialised: it is <see cref="RejectedClips"/>' count).</summary>
    [JsonIgnore] public int Rejected => RejectedClips?.Count ?? 0;

    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId)
            .AtLeast("shardCount", ShardCount, 1)
            .BlobPath("featuresKey", FeaturesKey, isPrefix: false)
            .Each("clips", Clips, c => c.FindProblems())
            .Each("rejectedClips", RejectedClips, r => r.FindProblems())
            .Required("trainStatistics", TrainStatistics).AddNested("trainStatistics", TrainStatistics?.FindProblems())
            .Finite("audioSeconds", AudioSeconds)
            .Finite("seconds", Seconds);
        if (ShardIndex < 0 || ShardIndex >= Math.Max(ShardCount, 1)) problems.Add($"shardIndex must be in [0, {ShardCount}), got {ShardIndex}.");
        if (Clips is not null && TrainStatistics is not null && Clips.All(c => c is not null))
        {
            var train = Clips.Where(c => c.Partition == ClipPartition.Train).ToList();
            var trainFrames = train.Sum(c => (long)c.Frames);
            if (TrainStatistics.Clips != train.Count || TrainStatistics.Frames != trainFrames)
            {
                problems.Add($"trainStatistics covers {TrainStatistics.Clips} clips and {TrainStatistics.Frames} frames, but the shard's train clips are {train.Count} with {trainFrames} frames.");
            }
        }
        return problems.List;
    }
}

/// <summary>
/// Every shard is in and the normalisation is written. Also published at once when the feature store already held the
/// dataset (<see cref="Reused"/>). Consumed by no service: the coordinator folded it into the run's status and sent
/// <see cref="TrainModel"/> (outside subscribers only).
/// </summary>
/// <param name="NormalisationKey">Blob key of the train-set per-band mean and unbiased std.</param>
/// <param name="Clips">Clips in the store (train + validation + test).</param>
/// <param name="Rejected">Clips left out, over the dataset and all shards.</param>
/// <param name="TrainFrames">Frames the normalisation was computed from.</param>
/// <param name="ReusedAudioRejections">
/// When <see cref="Reused"/>: the clips whose audio the store's extraction rejected, keyed under this run's dataset
/// prefix, so a run that reuses a store reports the same bad files as the run that built it (its own shards never
/// saw them). Null when this run's shards extracted the features and reported their rejections themselves.
/// </param>
public sealed record FeaturesReady(
    Guid RunId,
    string FeatureStorePrefix,
    string NormalisationKey,
    string DatasetFingerprint,
    int Clips,
    int TrainClips,
    int ValidationClips,
    int TestClips,
    int Rejected,
    long TrainFrames,
    bool Reused,
    DateTimeOffset Timestamp,
    IReadOnlyList<ClipRejection>? ReusedAudioRejections = null) : IRunEvent
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId)
            .BlobPath("featureStorePrefix", FeatureStorePrefix, isPrefix: true)
            .BlobPath("normalisationKey", NormalisationKey, isPrefix: false)
            .NotBlank("datasetFingerprint", DatasetFingerprint)
            .AtLeast("trainClips", TrainClips, 1)
            .AtLeast("validationClips", ValidationClips, 0)
            .AtLeast("testClips", TestClips, 0)
            .AtLeast("rejected", Rejected, 0)
            .AtLeast("trainFrames", TrainFrames, 1);
        if (ReusedAudioRejections is not null) problems.Each("reusedAudioRejections", ReusedAudioRejections, r => r.FindProblems());
        if (ReusedAudioRejections is not null && !Reused) problems.Add("reusedAudioRejections is only for a reused feature store (reused is false).");
        if (Clips != TrainClips + ValidationClips + TestClips)
        {
            problems.Add($"clips ({Clips}) must be trainClips + validationClips + testClips ({TrainClips + ValidationClips + TestClips}).");
        }
        return problems.List;
    }
}

/// <summary>The trainer took the run (trainer → coordinator, which folds it into the run's status).</summary>
/// <param name="Device">Where it trains: "cpu" or "cuda" (what "auto" resolved to).</param>
/// <param name="StartEpoch">1, or the epoch a redelivered command resumes from its checkpoint.</param>
/// <param name="Worker">Which trainer took the run (service, machine, process): with replicas, where it trained.</param>
public sealed record TrainingStarted(
    Guid RunId,
    string Device,
    int MaxEpochs,
    int StartEpoch,
    int TrainClips,
    int ValidationClips,
    DateTimeOffset Timestamp,
    string? Worker = null) : IRunEvent
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId).NotBlank("device", Device)
            .AtLeast("maxEpochs", MaxEpochs, 1).AtLeast("trainClips", TrainClips, 1).AtLeast("validationClips", ValidationClips, 0);
        if (StartEpoch < 1 || StartEpoch > MaxEpochs) problems.Add($"startEpoch must be in [1, {MaxEpochs}], got {StartEpoch}.");
        if (Worker is { Length: > MaxWorkerLength }) problems.Add($"worker must be at most {MaxWorkerLength} characters, got {Worker.Length}.");
        return problems.List;
    }

    /// <summary>Longest <see cref="Worker"/> name.</summary>
    public const int MaxWorkerLength = 200;
}

/// <summary>
/// One epoch of training, as history.json records it (CremaD.Evaluation.EpochRecord), plus the best epoch so far.
/// Losses may be NaN or infinite when training diverges, so they travel as JSON strings "NaN"/"Infinity" then.
/// </summary>
/// <param name="Epoch">1-based.</param>
/// <param name="BestEpoch">The epoch with the best validation accuracy up to and including this one.</param>
[JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record EpochProgress(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double ValidationLoss,
    double ValidationAccuracy,
    double LearningRate,
    double Seconds,
    int BestEpoch,
    double BestValidationAccuracy)
{
    /// <summary>This epoch is the best so far (the trainer saved the model).</summary>
    [JsonIgnore] public bool IsBest => Epoch == BestEpoch;

    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().AtLeast("epoch", Epoch, 1)
            .Fraction("trainAccuracy", TrainAccuracy).Fraction("validationAccuracy", ValidationAccuracy)
            .Fraction("bestValidationAccuracy", BestValidationAccuracy)
            .Finite("learningRate", LearningRate).Finite("seconds", Seconds);
        if (BestEpoch < 1 || BestEpoch > Epoch) problems.Add($"bestEpoch must be in [1, {Epoch}], got {BestEpoch}.");
        return problems.List;
    }
}

/// <summary>An epoch finished (trainer → coordinator, which folds it into the run's status): the progress the runs UI plots.</summary>
public sealed record TrainingEpochCompleted(Guid RunId, EpochProgress Epoch, int MaxEpochs, DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId).AtLeast("maxEpochs", MaxEpochs, 1)
            .Required("epoch", Epoch).AddNested("epoch", Epoch?.FindProblems());
        if (Epoch is not null && Epoch.Epoch > MaxEpochs) problems.Add($"epoch {Epoch.Epoch} is beyond maxEpochs {MaxEpochs}.");
        return problems.List;
    }
}

/// <summary>
/// Training finished (trainer → coordinator, which folds it into the run's status and sends <see cref="EvaluateModel"/>):
/// the best model and history.json are under <see cref="ModelPrefix"/>.
/// </summary>
/// <param name="ModelPrefix">
/// Folder of the best model (what <see cref="EvaluateModel.ModelPrefix"/> takes): the folder the trainer committed, inside
/// the run's model folder (<c>runs/&lt;id&gt;/model/g000001/</c>, see <see cref="BlobLayout.ModelGenerationPrefix"/>).
/// </param>
/// <param name="HistoryKey">Blob key of history.json.</param>
/// <param name="StoppedEarly">Patience ran out before the maximum number of epochs.</param>
/// <param name="Seconds">Wall-clock training time.</param>
public sealed record TrainingCompleted(
    Guid RunId,
    string ModelPrefix,
    string HistoryKey,
    int EpochsRun,
    int BestEpoch,
    double BestValidationAccuracy,
    bool StoppedEarly,
    double Seconds,
    DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems()
    {
        // The model's files become the run's artefacts, served by the runs API: only ever from the run's own folder.
        var runModel = RunId == Guid.Empty ? null : BlobLayout.ModelPrefix(RunId);
        var run = RunId == Guid.Empty ? null : BlobLayout.RunPrefix(RunId);
        var problems = new Problems().RunId(RunId)
            .BlobPath("modelPrefix", ModelPrefix, isPrefix: true)
            .Add(runModel is not null && ModelPrefix is { } model && !model.StartsWith(runModel, StringComparison.Ordinal)
                ? $"modelPrefix '{model}' is not inside this run's model folder {runModel}." : null)
            .BlobPath("historyKey", HistoryKey, isPrefix: false)
            .Add(run is not null && HistoryKey is { } history && !history.StartsWith(run, StringComparison.Ordinal)
                ? $"historyKey '{history}' is not inside this run's folder {run}." : null)
            .AtLeast("epochsRun", EpochsRun, 1)
            .Fraction("bestValidationAccuracy", BestValidationAccuracy)
            .Finite("seconds", Seconds);
        if (BestEpoch < 1 || BestEpoch > EpochsRun) problems.Add($"bestEpoch must be in [1, {EpochsRun}], got {BestEpoch}.");
        return problems.List;
    }
}

/// <summary>Recall of one class on the test partition.</summary>
/// <param name="Name">The class name as the report shows it ("anger", ...).</param>
public sealed record ClassRecall(string Name, double Recall);

/// <summary>A file a run produced.</summary>
/// <param name="Name">The artefact's file name (CremaD.Evaluation.ArtifactNames: "history.json", "confusion_matrix.png", ...).</param>
/// <param name="Key">Its blob key.</param>
public sealed record RunArtifact(string Name, string Key);

/// <summary>
/// The model was evaluated on the test partition (evaluation service → coordinator, which folds it into the run's
/// status and completes the run); the numbers are those of test_metrics.json.
/// </summary>
/// <param name="PerClassRecall">In class order.</param>
/// <param name="Samples">Test clips evaluated.</param>
/// <param name="Artifacts">classification_report.json, test_metrics.json, confusion_matrix.png, training_curves.png, ...</param>
public sealed record EvaluationCompleted(
    Guid RunId,
    double Accuracy,
    double MacroF1,
    IReadOnlyList<ClassRecall> PerClassRecall,
    int Samples,
    IReadOnlyList<RunArtifact> Artifacts,
    double Seconds,
    DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems() =>
        new Problems().RunId(RunId)
            .Fraction("accuracy", Accuracy).Fraction("macroF1", MacroF1)
            .Each("perClassRecall", PerClassRecall, r => new Problems().NotBlank("name", r.Name).Fraction("recall", r.Recall).List)
            .AtLeast("samples", Samples, 1)
            .Each("artifacts", Artifacts, a => new Problems().NotBlank("name", a.Name).BlobPath("key", a.Key, isPrefix: false)
                .Add(RunId != Guid.Empty && a.Key is { } key && key != BlobLayout.FileKey(BlobLayout.ArtifactsPrefix(RunId), a.Name ?? "?")
                    ? $"key '{key}' is not the artefact '{a.Name}' of this run: artefacts are {BlobLayout.ArtifactsPrefix(RunId)}<name>."
                    : null).List)
            .Finite("seconds", Seconds)
            .List;
}

/// <summary>
/// The run is done: every artefact is under <see cref="OutputPrefix"/>. Consumed by no service: the coordinator folded it
/// into the run's status before publishing it (outside subscribers only).
/// </summary>
/// <param name="Seconds">Wall-clock time from submission to completion.</param>
public sealed record RunCompleted(
    Guid RunId,
    string OutputPrefix,
    double TestAccuracy,
    double TestMacroF1,
    int BestEpoch,
    double Seconds,
    DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems() =>
        new Problems().RunId(RunId).BlobPath("outputPrefix", OutputPrefix, isPrefix: true)
            .Fraction("testAccuracy", TestAccuracy).Fraction("testMacroF1", TestMacroF1)
            .AtLeast("bestEpoch", BestEpoch, 1).Finite("seconds", Seconds)
            .List;
}

/// <summary>
/// The run cannot go on (any service → coordinator, which folds it into the run's status; trainer and evaluation
/// service, which stop the run's work). Published for a problem with the run itself (no train clips, a dataset that
/// cannot be read, a training that cannot start, a message that failed for good); a bad clip is a
/// <see cref="ClipRejection"/>, not a failure.
/// </summary>
/// <param name="Stage">The stage that failed.</param>
/// <param name="Reason">What went wrong, naming the file or key and the cause, fit to show a user.</param>
/// <param name="ExceptionType">Full name of the exception behind it, when there was one.</param>
public sealed record RunFailed(Guid RunId, RunStage Stage, string Reason, string? ExceptionType, DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId).NotBlank("reason", Reason).Defined("stage", Stage);
        if (Stage.IsTerminal()) problems.Add($"stage must be the stage that failed, not the terminal stage {Stage}.");
        return problems.List;
    }
}

/// <summary>
/// The run was cancelled on request (coordinator → trainer, evaluation service): the trainer records the run as stopped
/// and stops its training (or drops its request), the evaluation service stops or skips its evaluation. The
/// coordinator folded it into the run's status before publishing it.
/// </summary>
/// <param name="Stage">The stage the run was in.</param>
public sealed record RunCancelled(Guid RunId, RunStage Stage, string? Reason, DateTimeOffset Timestamp) : IRunEvent
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId).Defined("stage", Stage);
        if (Stage.IsTerminal()) problems.Add($"stage must be the stage that was interrupted, not the terminal stage {Stage}.");
        return problems.List;
    }
}

/// <summary>The message types of the run lifecycle, for hosts that configure all of them (correlation, topology) and for tests.</summary>
public static class RunMessageTypes
{
    public static IReadOnlyList<Type> Commands { get; } =
        [typeof(SubmitRun), typeof(ExtractFeatureShard), typeof(TrainModel), typeof(EvaluateModel), typeof(CancelRun)];

    public static IReadOnlyList<Type> Events { get; } =
    [
        typeof(RunSubmitted), typeof(FeatureShardExtracted), typeof(FeaturesReady), typeof(TrainingStarted),
        typeof(TrainingEpochCompleted), typeof(TrainingCompleted), typeof(EvaluationCompleted), typeof(RunCompleted),
        typeof(RunFailed), typeof(RunCancelled),
    ];

    public static IReadOnlyList<Type> All { get; } = [.. Commands, .. Events];
}
