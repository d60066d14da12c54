namespace CremaD.Contracts;

// Commands: one service is asked to do one thing. Each has exactly one consuming endpoint (see QueueNames);
// publishing it reaches that endpoint through the exchange named after the type, sending it to
// "queue:<name>" reaches it directly. Consumers are idempotent: a redelivered command (at-least-once delivery)
// does the work again over the same keys, or finds it done.

/// <summary>
/// Start a run (runs API → coordinator): features of <see cref="Dataset"/> under the recipe's feature store,
/// then training, then evaluation. The coordinator answers with <see cref="RunSubmitted"/> or, when the
/// dataset cannot be read, <see cref="RunFailed"/>.
/// </summary>
/// <param name="Name">Optional label a person gave the run.</param>
public sealed record SubmitRun(Guid RunId, DatasetRef Dataset, RunConfig Config, DateTimeOffset SubmittedAt, string? Name = null,
    string? Submitter = null) : IRunMessage
{
    /// <summary>The longest run name taken (a label for people: shown in lists and on the dashboard).</summary>
    public const int MaxNameLength = 200;

    /// <summary>The longest submitter name taken (it is part of a blob key: <see cref="BlobLayout.RunInFlightKey"/>).</summary>
    public const int MaxSubmitterLength = 64;

    /// <summary>Whether <paramref name="submitter"/> is a submitter name: 1 to 64 ASCII letters, digits, '-', '_' or '.', not only dots.</summary>
    public static bool IsSubmitterName(string submitter) =>
        submitter.Length is > 0 and <= MaxSubmitterLength && submitter.Trim('.').Length > 0
        && submitter.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public IReadOnlyList<string> FindProblems() =>
        new Problems().RunId(RunId)
            .Required("dataset", Dataset).AddNested("dataset", Dataset?.FindProblems())
            .Required("config", Config).AddNested("config", Config?.FindProblems())
            .Add(Name is { Length: > MaxNameLength } ? $"name must be at most {MaxNameLength} characters, got {Name.Length}." : null)
            .Add(Name is not null && Name.Any(char.IsControl) ? "name must not contain control characters." : null)
            .Add(Submitter is not null && !IsSubmitterName(Submitter)
                ? $"submitter must be 1 to {MaxSubmitterLength} letters, digits, '-', '_' or '.'." : null)
            .List;
}

/// <summary>
/// Extract the log-mel features of one shard of a run's dataset (coordinator → feature service). The service
/// writes the shard's matrices under <see cref="OutputPrefix"/> and publishes <see cref="FeatureShardExtracted"/>;
/// clips whose audio is bad are reported there as rejections, not failures. Shards are independent, so any
/// number of feature service replicas work on one run in parallel.
/// </summary>
/// <param name="DatasetFingerprint">Fingerprint of the whole dataset (CremaD.Datasets.DatasetFingerprint); with <paramref name="RecipeVersion"/> it keys the feature store.</param>
/// <param name="RecipeVersion">CremaD.Audio.FeatureRecipe.Version the features must follow; a service with another recipe refuses the command.</param>
/// <param name="ShardIndex">0-based index of this shard among <paramref name="ShardCount"/>.</param>
/// <param name="Clips">The clips of this shard, in dataset order.</param>
/// <param name="OutputPrefix">Where to write, e.g. <see cref="BlobLayout.ShardPrefix"/> of the feature store.</param>
public sealed record ExtractFeatureShard(
    Guid RunId,
    DatasetRef Dataset,
    string DatasetFingerprint,
    int RecipeVersion,
    int ShardIndex,
    int ShardCount,
    IReadOnlyList<ShardClip> Clips,
    string OutputPrefix) : IRunMessage
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().RunId(RunId)
            .Required("dataset", Dataset).AddNested("dataset", Dataset?.FindProblems())
            .NotBlank("datasetFingerprint", DatasetFingerprint)
            .AtLeast("recipeVersion", RecipeVersion, 1)
            .AtLeast("shardCount", ShardCount, 1)
            .BlobPath("outputPrefix", OutputPrefix, isPrefix: true)
            .Each("clips", Clips, clip => clip.FindProblems());
        if (ShardIndex < 0 || ShardIndex >= Math.Max(ShardCount, 1)) problems.Add($"shardIndex must be in [0, {ShardCount}), got {ShardIndex}.");
        if (Clips is { Count: 0 }) problems.Add("clips must not be empty: a shard plan has no empty shards.");
        // A shard reads the dataset it names and nothing else: not another dataset, a run's model or a feature store.
        if (Dataset?.Prefix is { Length: > 0 } prefix && Clips is not null)
        {
            foreach (var clip in Clips.Where(c => c is not null))
            {
                if (clip.Key is { } key && !key.StartsWith(prefix, StringComparison.Ordinal)
                    || clip.Packed?.Key is { } packKey && !packKey.StartsWith(prefix, StringComparison.Ordinal))
                {
                    problems.Add($"clip '{clip.Id}' lies outside the dataset '{prefix}': {clip.Packed?.Key ?? clip.Key}.");
                    break;
                }
            }
        }
        if (Clips is { Count: > RunConfig.MaxShardSize }) problems.Add($"clips must hold at most {RunConfig.MaxShardSize} clips, got {Clips.Count}.");
        if (Clips is not null && Clips.Where(c => c is not null).GroupBy(c => c.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            problems.Add($"clips lists the clip id '{duplicate.Key}' more than once.");
        }
        return problems.List;
    }
}

/// <summary>
/// Train a model on a complete feature store (coordinator → trainer service). The trainer publishes
/// <see cref="TrainingStarted"/>, one <see cref="TrainingEpochCompleted"/> per epoch and
/// <see cref="TrainingCompleted"/>, writing the best model and history.json under <see cref="OutputPrefix"/>.
/// </summary>
/// <param name="FeatureStorePrefix">The feature store <see cref="FeaturesReady"/> announced.</param>
/// <param name="NormalisationKey">Blob key of the train-set mean/std the model must be trained (and later evaluated) with.</param>
/// <param name="OutputPrefix">The run's folder, <see cref="BlobLayout.RunPrefix"/>.</param>
public sealed record TrainModel(
    Guid RunId,
    string FeatureStorePrefix,
    string NormalisationKey,
    RunConfig Config,
    string OutputPrefix) : IRunMessage
{
    public IReadOnlyList<string> FindProblems() =>
        new Problems().RunId(RunId)
            .BlobPath("featureStorePrefix", FeatureStorePrefix, isPrefix: true)
            .BlobPath("normalisationKey", NormalisationKey, isPrefix: false)
            .Required("config", Config).AddNested("config", Config?.FindProblems())
            .BlobPath("outputPrefix", OutputPrefix, isPrefix: true)
            .List;
}

/// <summary>
/// Evaluate a trained model on the test partition (coordinator → evaluation service): classification_report.json,
/// test_metrics.json, confusion_matrix.png and training_curves.png under <see cref="OutputPrefix"/>, with the run's
/// run.json, then <see cref="EvaluationCompleted"/>. It carries what run.json says about the run beyond the model, so
/// the evaluation service needs nothing of the coordinator's state.
/// </summary>
/// <param name="ModelPrefix">Where <see cref="TrainingCompleted"/> said the model is.</param>
/// <param name="Config">The run's recipe: run.json's training options where the model's own manifest has none.</param>
/// <param name="Training">What the training came to: run.json's results and device where the model's manifest has none.</param>
/// <param name="Timestamps">The run's timestamps when it was sent to evaluation: run.json's stage durations.</param>
public sealed record EvaluateModel(
    Guid RunId,
    string ModelPrefix,
    string FeatureStorePrefix,
    string OutputPrefix,
    RunConfig Config,
    TrainingSummary Training,
    RunTimestamps Timestamps) : IRunMessage
{
    public IReadOnlyList<string> FindProblems() =>
        new Problems().RunId(RunId)
            .BlobPath("modelPrefix", ModelPrefix, isPrefix: true)
            .BlobPath("featureStorePrefix", FeatureStorePrefix, isPrefix: true)
            .BlobPath("outputPrefix", OutputPrefix, isPrefix: true)
            .Required("config", Config).AddNested("config", Config?.FindProblems())
            .Required("training", Training).AddNested("training", Training?.FindProblems())
            .Required("timestamps", Timestamps)
            .List;
}

/// <summary>A finished training as the run's status recorded it (<see cref="TrainingStarted"/>, <see cref="TrainingCompleted"/>).</summary>
/// <param name="Device">Where it trained: "cpu" or "cuda"; "unknown" when no TrainingStarted was recorded.</param>
public sealed record TrainingSummary(string Device, int EpochsRun, int BestEpoch, double BestValidationAccuracy, bool StoppedEarly)
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().NotBlank("device", Device).AtLeast("epochsRun", EpochsRun, 1)
            .Fraction("bestValidationAccuracy", BestValidationAccuracy);
        if (BestEpoch < 1 || BestEpoch > EpochsRun) problems.Add($"bestEpoch must be in [1, {EpochsRun}], got {BestEpoch}.");
        return problems.List;
    }
}

/// <summary>
/// Stop a run (runs API → coordinator). The coordinator publishes <see cref="RunCancelled"/>, on which the trainer
/// stops the run's training and the evaluation service its evaluation; a finished run stays finished.
/// </summary>
public sealed record CancelRun(Guid RunId, DateTimeOffset RequestedAt, string? Reason = null) : IRunMessage
{
    public IReadOnlyList<string> FindProblems() => new Problems().RunId(RunId).List;
}
