using System.Text.Json.Serialization;

namespace CremaD.Contracts;

/// <summary>When a run reached each point; null until it has.</summary>
/// <param name="FeaturesStartedAt">When the feature stage began: the coordinator planned the shards (or found a complete
/// feature store), or the earliest start of a shard, whichever is earlier. FeaturesStartedAt → FeaturesReadyAt is the
/// stage's wall time.</param>
/// <param name="UpdatedAt">Time of the latest event applied.</param>
public sealed record RunTimestamps(
    DateTimeOffset SubmittedAt,
    DateTimeOffset? FeaturesStartedAt,
    DateTimeOffset? FeaturesReadyAt,
    DateTimeOffset? TrainingStartedAt,
    DateTimeOffset? TrainingCompletedAt,
    DateTimeOffset? EvaluationCompletedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset UpdatedAt);

/// <summary>The feature stage so far.</summary>
/// <param name="ShardCount">Shards planned; 0 when the feature store was reused.</param>
/// <param name="CompletedShards">Indices of the shards that reported, ascending (a redelivered report counts once).</param>
/// <param name="Clips">Clips to extract.</param>
public sealed record FeatureStageStatus(
    string? FeatureStorePrefix,
    int ShardCount,
    IReadOnlyList<int> CompletedShards,
    int Clips,
    int ClipsExtracted,
    int ClipsRejected,
    double AudioSeconds,
    bool Ready,
    bool Reused)
{
    public static FeatureStageStatus NotStarted { get; } = new(null, 0, [], 0, 0, 0, 0, false, false);
}

/// <summary>The training stage so far.</summary>
/// <param name="History">One entry per epoch, ascending.</param>
/// <param name="Worker">The trainer that took the run (last, if it was resumed elsewhere).</param>
public sealed record TrainingStageStatus(
    string? Device,
    int MaxEpochs,
    IReadOnlyList<EpochProgress> History,
    int BestEpoch,
    double BestValidationAccuracy,
    bool Completed,
    bool StoppedEarly,
    string? Worker = null)
{
    public static TrainingStageStatus NotStarted { get; } = new(null, 0, [], 0, 0, false, false);

    /// <summary>Epochs finished so far.</summary>
    [JsonIgnore] public int EpochsCompleted => History.Count;
}

/// <summary>The test-set numbers of an evaluated run.</summary>
public sealed record EvaluationStageStatus(double Accuracy, double MacroF1, IReadOnlyList<ClassRecall> PerClassRecall, int Samples);

/// <summary>Something that went wrong with the run as a whole.</summary>
public sealed record RunError(RunStage Stage, string Message, string? ExceptionType, DateTimeOffset Timestamp);

/// <summary>
/// What the runs API returns for a run: its stage, overall progress, the metrics so far, rejected clips, errors,
/// timestamps and artefacts. It is a projection of the run's events: start from <see cref="Submitted"/> and
/// fold every later event in with <see cref="Apply"/>. Apply is pure and tolerant of at-least-once, unordered
/// delivery: a duplicate changes nothing, the stage never moves backwards, and nothing moves a finished run.
/// </summary>
/// <param name="Progress">Overall fraction done in [0, 1], never decreasing; see <see cref="ProgressWeights"/>.</param>
/// <param name="Submitter">Who submitted the run (the runs API key's submitter name); null for a run submitted on the bus directly.</param>
public sealed record RunStatus(
    Guid RunId,
    string? Name,
    RunStage Stage,
    double Progress,
    DatasetRef Dataset,
    RunConfig Config,
    RunTimestamps Timestamps,
    FeatureStageStatus Features,
    TrainingStageStatus Training,
    EvaluationStageStatus? Evaluation,
    IReadOnlyList<ClipRejection> RejectedClips,
    IReadOnlyList<RunError> Errors,
    IReadOnlyList<RunArtifact> Artifacts,
    string? Submitter = null)
{
    /// <summary>Share of the overall progress each stage accounts for (features, then training, then evaluation).</summary>
    public static class ProgressWeights
    {
        public const double Features = 0.20;
        public const double Training = 0.70;
        public const double Evaluation = 0.10;
    }

    /// <summary>The status of a run the coordinator has just accepted.</summary>
    public static RunStatus Submitted(RunSubmitted submitted)
    {
        ArgumentNullException.ThrowIfNull(submitted);
        var status = new RunStatus(
            submitted.RunId, submitted.Name, RunStage.Submitted, 0, submitted.Dataset, submitted.Config,
            new RunTimestamps(submitted.SubmittedAt, null, null, null, null, null, null, submitted.Timestamp),
            FeatureStageStatus.NotStarted, TrainingStageStatus.NotStarted, null, [], [], []);
        return status.Apply(submitted);
    }

    /// <summary>The status after <paramref name="runEvent"/>; this instance is not changed.</summary>
    /// <exception cref="ArgumentException">The event is about another run.</exception>
    public RunStatus Apply(IRunEvent runEvent)
    {
        ArgumentNullException.ThrowIfNull(runEvent);
        if (runEvent.RunId != RunId)
        {
            throw new ArgumentException($"{runEvent.GetType().Name} is about run {runEvent.RunId:D}, not run {RunId:D}.", nameof(runEvent));
        }
        if (Stage.IsTerminal()) return this;
        var next = runEvent switch
        {
            RunCompleted e => Finish(RunStage.Completed, e.Timestamp) with { Progress = 1 },
            RunFailed e => Finish(RunStage.Failed, e.Timestamp) with
            {
                Errors = [.. Errors, new RunError(e.Stage, e.Reason, e.ExceptionType, e.Timestamp)],
            },
            RunCancelled e => Finish(RunStage.Cancelled, e.Timestamp) with
            {
                Errors = [.. Errors, new RunError(e.Stage, "Cancelled" + (string.IsNullOrWhiteSpace(e.Reason) ? "." : $": {e.Reason}"), null, e.Timestamp)],
            },
            RunSubmitted e => OnSubmitted(e),
            FeatureShardExtracted e => OnShard(e),
            FeaturesReady e => OnFeaturesReady(e),
            TrainingStarted e => OnTrainingStarted(e),
            TrainingEpochCompleted e => OnEpoch(e),
            TrainingCompleted e => OnTrainingCompleted(e),
            EvaluationCompleted e => OnEvaluated(e),
            // An event type this version does not know yet: nothing to show for it.
            _ => this,
        };
        if (ReferenceEquals(next, this)) return this;
        var latest = runEvent.Timestamp > next.Timestamps.UpdatedAt ? runEvent.Timestamp : next.Timestamps.UpdatedAt;
        return next with
        {
            Progress = Math.Max(Progress, next.Progress),
            Timestamps = next.Timestamps with { UpdatedAt = latest },
        };
    }

    /// <summary>Folds events into the status in order.</summary>
    public RunStatus ApplyAll(IEnumerable<IRunEvent> events) => events.Aggregate(this, (status, e) => status.Apply(e));

    private RunStatus Finish(RunStage stage, DateTimeOffset at) =>
        this with { Stage = stage, Timestamps = Timestamps with { FinishedAt = at } };

    private RunStage Advance(RunStage stage) => stage > Stage ? stage : Stage;

    private RunStatus OnSubmitted(RunSubmitted e)
    {
        if (Features.FeatureStorePrefix is not null) return this; // a duplicate
        return this with
        {
            Features = Features with { FeatureStorePrefix = e.FeatureStorePrefix, ShardCount = e.ShardCount, Clips = e.Clips },
            RejectedClips = [.. RejectedClips, .. e.RejectedClips],
            Timestamps = Timestamps with { FeaturesStartedAt = Earliest(Timestamps.FeaturesStartedAt, e.Timestamp) },
        };
    }

    private RunStatus OnShard(FeatureShardExtracted e)
    {
        if (Features.Ready || Features.CompletedShards.Contains(e.ShardIndex)) return this;
        var features = Features with
        {
            ShardCount = Math.Max(Features.ShardCount, e.ShardCount),
            CompletedShards = [.. Features.CompletedShards.Append(e.ShardIndex).Order()],
            ClipsExtracted = Features.ClipsExtracted + e.Extracted,
            ClipsRejected = Features.ClipsRejected + e.Rejected,
            AudioSeconds = Features.AudioSeconds + e.AudioSeconds,
        };
        return this with
        {
            Stage = Advance(RunStage.Features),
            Features = features,
            RejectedClips = [.. RejectedClips, .. e.RejectedClips],
            Progress = ProgressWeights.Features * features.CompletedShards.Count / Math.Max(features.ShardCount, 1),
            // The shard's own start (its report's time less its duration): on time even if the plan's event came late.
            Timestamps = Timestamps with { FeaturesStartedAt = Earliest(Timestamps.FeaturesStartedAt, e.Timestamp - TimeSpan.FromSeconds(Math.Max(0, e.Seconds))) },
        };
    }

    private RunStatus OnFeaturesReady(FeaturesReady e)
    {
        if (Features.Ready) return this;
        // A reused store's bad files join the run's own list (once each), as the shards' reports would have.
        var reusedRejections = e.Reused && e.ReusedAudioRejections is { } reported
            ? reported.Where(r => !RejectedClips.Any(known => known.Key == r.Key && known.Stage == r.Stage)).ToList()
            : [];
        return this with
        {
            Stage = Advance(RunStage.Training),
            Features = Features with
            {
                FeatureStorePrefix = e.FeatureStorePrefix,
                Ready = true,
                Reused = e.Reused,
                ClipsExtracted = e.Reused ? e.Clips : Features.ClipsExtracted,
                ClipsRejected = e.Reused && e.ReusedAudioRejections is not null ? e.ReusedAudioRejections.Count : Features.ClipsRejected,
            },
            RejectedClips = reusedRejections.Count == 0 ? RejectedClips : [.. RejectedClips, .. reusedRejections],
            Progress = ProgressWeights.Features,
            Timestamps = Timestamps with { FeaturesReadyAt = e.Timestamp },
        };
    }

    private RunStatus OnTrainingStarted(TrainingStarted e) => this with
    {
        Stage = Advance(RunStage.Training),
        // A resumed run names the trainer that took it last.
        Training = Training with { Device = e.Device, MaxEpochs = e.MaxEpochs, Worker = e.Worker ?? Training.Worker },
        Progress = ProgressWeights.Features,
        Timestamps = Timestamps with { TrainingStartedAt = Timestamps.TrainingStartedAt ?? e.Timestamp },
    };

    private RunStatus OnEpoch(TrainingEpochCompleted e)
    {
        if (Training.Completed) return this;
        // A resumed trainer may report an epoch again; the latest report of an epoch wins.
        var history = Training.History.Where(h => h.Epoch != e.Epoch.Epoch).Append(e.Epoch).OrderBy(h => h.Epoch).ToList();
        var last = history[^1];
        var maxEpochs = Math.Max(Training.MaxEpochs, e.MaxEpochs);
        return this with
        {
            Stage = Advance(RunStage.Training),
            Training = Training with
            {
                MaxEpochs = maxEpochs,
                History = history,
                BestEpoch = last.BestEpoch,
                BestValidationAccuracy = last.BestValidationAccuracy,
            },
            Progress = ProgressWeights.Features + ProgressWeights.Training * Math.Min(1.0, (double)last.Epoch / maxEpochs),
        };
    }

    private RunStatus OnTrainingCompleted(TrainingCompleted e)
    {
        if (Training.Completed) return this;
        return this with
        {
            Stage = Advance(RunStage.Evaluation),
            Training = Training with
            {
                Completed = true,
                BestEpoch = e.BestEpoch,
                BestValidationAccuracy = e.BestValidationAccuracy,
                StoppedEarly = e.StoppedEarly,
            },
            Artifacts = BlobLayout.ModelArtifactFiles.Aggregate(
                WithArtifact(Artifacts, new RunArtifact(Path.GetFileName(e.HistoryKey), e.HistoryKey)),
                (artifacts, file) => WithArtifact(artifacts, new RunArtifact(file, BlobLayout.FileKey(e.ModelPrefix, file)))),
            Progress = ProgressWeights.Features + ProgressWeights.Training,
            Timestamps = Timestamps with { TrainingCompletedAt = e.Timestamp },
        };
    }

    private RunStatus OnEvaluated(EvaluationCompleted e)
    {
        if (Evaluation is not null) return this;
        return this with
        {
            Stage = Advance(RunStage.Evaluation),
            Evaluation = new EvaluationStageStatus(e.Accuracy, e.MacroF1, e.PerClassRecall, e.Samples),
            Artifacts = e.Artifacts.Aggregate(Artifacts, WithArtifact),
            // The run completes when the coordinator has recorded the outcome; until then it is not quite done.
            Progress = ProgressWeights.Features + ProgressWeights.Training + ProgressWeights.Evaluation * 0.9,
            Timestamps = Timestamps with { EvaluationCompletedAt = e.Timestamp },
        };
    }

    private static IReadOnlyList<RunArtifact> WithArtifact(IReadOnlyList<RunArtifact> artifacts, RunArtifact artifact) =>
        [.. artifacts.Where(a => a.Name != artifact.Name), artifact];

    private static DateTimeOffset Earliest(DateTimeOffset? current, DateTimeOffset candidate) =>
        current is { } c && c < candidate ? c : candidate;
}
