using System.Globalization;

namespace CremaD.Contracts;

/// <summary>
/// The one place blob keys are made: where datasets, feature stores, runs and the services' own records live, so that
/// the runs API, the services and the CLI agree without asking each other. Every value is a key or key prefix of the
/// storage port (CremaD.Storage.IBlobStore): relative, '/'-separated, prefixes ending with '/'. Messages carry the
/// concrete prefixes and keys they refer to, so a consumer builds keys only inside what it was given (a file of a
/// model prefix, say) and only with these helpers. The names of the files themselves belong to their formats
/// (CremaD.Datasets.FeatureStoreFiles, CremaD.Learning.ModelFiles, CremaD.Evaluation.ArtifactNames).
/// </summary>
/// <remarks>
/// <code>
/// datasets/&lt;name&gt;/…                                   a dataset as uploaded (labels.csv, train/…, or AudioWAV/…)
/// features/&lt;fingerprint&gt;/recipe-&lt;v&gt;/                   a feature store: index.json, normalisation.json, …, metadata.json last,
///   dataset.json, parts.json                            what the coordinator planned and which shard holds each part
///   shards/shard-00003-of-00029/shard.json, features.f32  one shard (the manifest last)
/// runs/&lt;run id&gt;/status.json                            the run's status (the coordinator's; the runs API reads it)
///   model/checkpoint.json                               the trainer's fence and pointer: owner generation, committed checkpoint, result
///   model/g000003/…                                     the model files of owner generation 3 (the committed one is the model)
///   artifacts/…                                         the evaluator's artefacts
///   trainer.lease                                       held by the trainer training the run
///   training/attempts.json                              the trainer's attempts on the run (how many died)
/// run-index/&lt;inverted submission ticks&gt;-&lt;run id&gt;        one empty blob per run, newest first (the coordinator's)
/// work/training/&lt;run id&gt;.json                          the trainer's pending requests
/// work/training-stops/&lt;run id&gt;.json                    runs the trainer must not train (cancelled or failed)
/// </code>
/// </remarks>
public static class BlobLayout
{
    /// <summary>Top folder of uploaded datasets.</summary>
    public const string DatasetsFolder = "datasets";

    /// <summary>Top folder of run outputs.</summary>
    public const string RunsFolder = "runs";

    /// <summary>Top folder of feature stores shared by runs.</summary>
    public const string FeaturesFolder = "features";

    /// <summary>Folder of the run index: <see cref="RunIndexKey"/>, one empty blob per run.</summary>
    public const string RunIndexPrefix = "run-index/";

    /// <summary>
    /// Folder of the runs in flight: <see cref="RunInFlightKey"/>, one empty blob per run that has not finished, under its
    /// submitter (the cap on runs in flight per submitter counts them; the reconciler walks them all).
    /// </summary>
    public const string RunsInFlightPrefix = "runs-in-flight/";

    /// <summary>Folder name of runs in flight whose submission named no submitter.</summary>
    public const string UnattributedSubmitter = "_unattributed";

    /// <summary>Folder of the runs <paramref name="submitter"/> has in flight.</summary>
    public static string RunsInFlightPrefixOf(string? submitter) => $"{RunsInFlightPrefix}{submitter ?? UnattributedSubmitter}/";

    /// <summary><c>runs-in-flight/&lt;submitter&gt;/&lt;run id&gt;</c>.</summary>
    public static string RunInFlightKey(string? submitter, Guid runId) =>
        string.Create(CultureInfo.InvariantCulture, $"{RunsInFlightPrefixOf(submitter)}{runId:N}");

    /// <summary>The run of an in-flight entry, or null when the key is not one <see cref="RunInFlightKey"/> makes.</summary>
    public static Guid? RunIdOfInFlightKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!key.StartsWith(RunsInFlightPrefix, StringComparison.Ordinal)) return null;
        var slash = key.LastIndexOf('/');
        return slash > RunsInFlightPrefix.Length && Guid.TryParseExact(key[(slash + 1)..], "N", out var runId) ? runId : null;
    }

    /// <summary>Folder of pending training requests, one blob per run (<see cref="TrainingRequestKey"/>): what trainer workers poll.</summary>
    public const string TrainingRequestsPrefix = "work/training/";

    /// <summary>Folder of the trainer's stop records, one blob per run (<see cref="TrainingStopKey"/>).</summary>
    public const string TrainingStopsPrefix = "work/training-stops/";

    /// <summary>
    /// The trained model's files in a model prefix that a client of the runs API downloads as artefacts: the weights and the
    /// manifest that makes them usable on their own (CremaD.Learning.ModelFiles' names; Contracts cannot reference it, a test
    /// pins them equal).
    /// </summary>
    public static IReadOnlyList<string> ModelArtifactFiles { get; } = ["best_model", "model.json"];

    /// <summary>
    /// The key of a file under a folder prefix: <paramref name="relativePath"/> ('/'-separated) inside
    /// <paramref name="folderPrefix"/> (with or without its trailing '/').
    /// </summary>
    public static string FileKey(string folderPrefix, string relativePath)
    {
        ArgumentNullException.ThrowIfNull(folderPrefix);
        ArgumentException.ThrowIfNullOrEmpty(relativePath);
        return folderPrefix.Length == 0 || folderPrefix.EndsWith('/') ? folderPrefix + relativePath : folderPrefix + "/" + relativePath;
    }

    /// <summary><c>datasets/&lt;name&gt;/</c>: where a dataset uploaded under <paramref name="name"/> lives.</summary>
    public static string DatasetPrefix(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || FindPathProblem(name.Trim(), isPrefix: false) is not null || name.Contains('/'))
        {
            throw new ArgumentException($"The dataset name '{name}' must be one non-empty path segment (a prefix ends with '/').", nameof(name));
        }
        return $"{DatasetsFolder}/{name.Trim()}/";
    }

    /// <summary>
    /// <c>datasets/&lt;name&gt;/_packs/</c>: a packed upload's clips, many to a blob (<see cref="DatasetPackKey"/>), and
    /// the index that says where each clip is (<see cref="DatasetPackIndexKey"/>). Not part of the dataset's files.
    /// </summary>
    public static string DatasetPacksPrefix(string datasetPrefix) => FileKey(datasetPrefix, DatasetPacksFolder + "/");

    /// <summary>The folder of a dataset that holds its packs.</summary>
    public const string DatasetPacksFolder = "_packs";

    /// <summary><c>datasets/&lt;name&gt;/_packs/index.json</c>, written after the packs it lists: its presence means they are complete.</summary>
    public static string DatasetPackIndexKey(string datasetPrefix) => FileKey(DatasetPacksPrefix(datasetPrefix), "index.json");

    /// <summary><c>datasets/&lt;name&gt;/_packs/&lt;upload&gt;/pack-00000.bin</c>: one upload's packs in their own folder, so a new upload never overwrites a pack a run is reading.</summary>
    public static string DatasetPackKey(string datasetPrefix, string upload, int pack)
    {
        ArgumentNullException.ThrowIfNull(upload);
        var problem = FindPathProblem(upload, isPrefix: false) ?? (upload.Contains('/') ? "contains '/'" : null);
        if (problem is not null) throw new ArgumentException($"The upload name '{upload}' must be one path segment: it {problem}.", nameof(upload));
        ArgumentOutOfRangeException.ThrowIfNegative(pack);
        return FileKey(DatasetPacksPrefix(datasetPrefix), $"{upload}/pack-{pack:D5}.bin");
    }

    /// <summary>Where the runs API keeps sweeps: <c>sweeps/&lt;id&gt;.json</c> (<see cref="SweepRecord"/>).</summary>
    public const string SweepsFolder = "sweeps";

    /// <summary>The record of sweep <paramref name="sweepId"/>.</summary>
    public static string SweepKey(Guid sweepId)
    {
        if (sweepId == Guid.Empty) throw new ArgumentException("The sweep id must not be empty.", nameof(sweepId));
        return $"{SweepsFolder}/{sweepId:N}.json";
    }

    /// <summary>Folder of the sweep index: <see cref="SweepIndexKey"/>, one empty blob per sweep.</summary>
    public const string SweepIndexPrefix = "sweep-index/";

    /// <summary>The sweep's index entry, newest submission first in key order (as <see cref="RunIndexKey"/>).</summary>
    public static string SweepIndexKey(Guid sweepId, DateTimeOffset submittedAt) => IndexKey(SweepIndexPrefix, sweepId, submittedAt);

    /// <summary>The sweep of an index entry, or null when the key is not one <see cref="SweepIndexKey"/> makes.</summary>
    public static Guid? SweepIdOfIndexKey(string key) => IdOfIndexKey(SweepIndexPrefix, key);

    /// <summary><c>runs/&lt;run id, 32 hex digits&gt;/</c>: the model, history, plots and metrics of one run.</summary>
    public static string RunPrefix(Guid runId)
    {
        if (runId == Guid.Empty) throw new ArgumentException("The run id must not be empty.", nameof(runId));
        return $"{RunsFolder}/{runId:N}/";
    }

    /// <summary><c>runs/&lt;id&gt;/status.json</c>: the run's status, which only the coordinator writes.</summary>
    public static string RunStatusKey(Guid runId) => RunPrefix(runId) + "status.json";

    /// <summary>
    /// <c>&lt;run prefix&gt;deliveries/&lt;work&gt;.json</c>: how many deliveries of one piece of the run's work (a command,
    /// e.g. <c>ExtractFeatureShard-3</c>) were started and never finished (the delivery limit, which must outlive the
    /// consumer's process).
    /// </summary>
    public static string DeliveryCountKey(Guid runId, string work)
    {
        ArgumentException.ThrowIfNullOrEmpty(work);
        if (!work.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) throw new ArgumentException($"'{work}' is not a work name.", nameof(work));
        return $"{RunPrefix(runId)}deliveries/{work}.json";
    }

    /// <summary>
    /// <c>&lt;run prefix&gt;model/</c>: where the trainer writes a run's model (TrainModel carries the run prefix): a folder per
    /// owner generation (<see cref="ModelGenerationPrefix"/>) and the pointer to the committed one (<see cref="ModelCheckpointKey"/>).
    /// </summary>
    public static string ModelPrefix(string runPrefix) => FileKey(runPrefix, "model/");

    /// <summary><c>runs/&lt;id&gt;/model/</c>.</summary>
    public static string ModelPrefix(Guid runId) => ModelPrefix(RunPrefix(runId));

    /// <summary><c>&lt;run prefix&gt;artifacts/</c>: where the evaluator writes a run's artefacts.</summary>
    public static string ArtifactsPrefix(string runPrefix) => FileKey(runPrefix, "artifacts/");

    /// <summary><c>runs/&lt;id&gt;/artifacts/</c>.</summary>
    public static string ArtifactsPrefix(Guid runId) => ArtifactsPrefix(RunPrefix(runId));

    /// <summary>
    /// The run's index entry, <c>run-index/&lt;inverted submission ticks, 19 digits&gt;-&lt;run id&gt;</c>. Ticks are counted
    /// down from <see cref="DateTimeOffset.MaxValue"/>, so the ordinal order of the keys (the order blob listings come in)
    /// is newest submission first.
    /// </summary>
    public static string RunIndexKey(Guid runId, DateTimeOffset submittedAt) => IndexKey(RunIndexPrefix, runId, submittedAt);

    /// <summary>The run of an index entry, or null when the key is not one <see cref="RunIndexKey"/> makes.</summary>
    public static Guid? RunIdOfIndexKey(string key) => IdOfIndexKey(RunIndexPrefix, key);

    private static string IndexKey(string prefix, Guid id, DateTimeOffset submittedAt) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}{DateTimeOffset.MaxValue.UtcTicks - submittedAt.UtcTicks:D19}-{id:N}");

    private static Guid? IdOfIndexKey(string prefix, string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!key.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var name = key[prefix.Length..];
        var dash = name.IndexOf('-');
        return dash == 19 && Guid.TryParseExact(name[(dash + 1)..], "N", out var id) ? id : null;
    }

    /// <summary><c>work/training/&lt;run id&gt;.json</c>: a run's pending training request.</summary>
    public static string TrainingRequestKey(Guid runId) => $"{TrainingRequestsPrefix}{runId:N}.json";

    /// <summary>The run a training request key is for, or null when the key is not one <see cref="TrainingRequestKey"/> makes.</summary>
    public static Guid? RunIdOfTrainingRequestKey(string requestKey)
    {
        ArgumentNullException.ThrowIfNull(requestKey);
        if (!requestKey.StartsWith(TrainingRequestsPrefix, StringComparison.Ordinal) || !requestKey.EndsWith(".json", StringComparison.Ordinal)) return null;
        return Guid.TryParseExact(requestKey[TrainingRequestsPrefix.Length..^".json".Length], "N", out var runId) ? runId : null;
    }

    /// <summary><c>work/training-stops/&lt;run id&gt;.json</c>: the trainer's record that a run was cancelled or failed.</summary>
    public static string TrainingStopKey(Guid runId) => $"{TrainingStopsPrefix}{runId:N}.json";

    /// <summary><c>runs/&lt;id&gt;/trainer.lease</c>: the lock a trainer holds (renewing it) while it trains a run.</summary>
    public static string TrainerLeaseKey(Guid runId) => RunPrefix(runId) + "trainer.lease";

    /// <summary>
    /// <c>&lt;model prefix&gt;checkpoint.json</c>: which owner generation trains the run, where its committed checkpoint is
    /// and, once trained, the TrainingCompleted (written before it is published). Every write of it is conditional on the
    /// ETag its writer last saw, which is what fences a trainer out once another has taken the run.
    /// </summary>
    public static string ModelCheckpointKey(string modelPrefix) => FileKey(modelPrefix, "checkpoint.json");

    /// <summary>
    /// <c>&lt;model prefix&gt;g000003/</c>: the folder only owner generation 3 of the run writes its model files to, so that no
    /// trainer ever writes over another's files (see <see cref="ModelCheckpointKey"/>).
    /// </summary>
    public static string ModelGenerationPrefix(string modelPrefix, long generation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(generation, 1);
        return FileKey(modelPrefix, string.Create(CultureInfo.InvariantCulture, $"g{generation:D6}/"));
    }

    /// <summary><c>runs/&lt;id&gt;/training/attempts.json</c>: the trainer's record of its attempts on the run (the ones that died count).</summary>
    public static string TrainingAttemptsKey(Guid runId) => RunPrefix(runId) + "training/attempts.json";

    /// <summary>
    /// <c>features/&lt;dataset fingerprint&gt;/recipe-&lt;version&gt;/</c>: the feature store of one dataset
    /// content under one feature recipe. Runs over the same files with the same recipe share it, which is what
    /// makes a second run skip extraction.
    /// </summary>
    /// <param name="datasetFingerprint">The dataset fingerprint (CremaD.Datasets.DatasetFingerprint): letters and digits only.</param>
    /// <param name="recipeVersion">CremaD.Audio.FeatureRecipe.Version.</param>
    public static string FeatureStorePrefix(string datasetFingerprint, int recipeVersion)
    {
        if (string.IsNullOrEmpty(datasetFingerprint) || !datasetFingerprint.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException(
                $"The dataset fingerprint '{datasetFingerprint}' must be a non-empty string of ASCII letters and digits.", nameof(datasetFingerprint));
        }
        if (recipeVersion < 1) throw new ArgumentOutOfRangeException(nameof(recipeVersion), recipeVersion, "The recipe version must be at least 1.");
        return $"{FeaturesFolder}/{datasetFingerprint}/recipe-{recipeVersion.ToString(CultureInfo.InvariantCulture)}/";
    }

    /// <summary><c>&lt;store&gt;dataset.json</c>: what the coordinator planned the store's shards from.</summary>
    public static string FeatureStoreDatasetKey(string featureStorePrefix) => FileKey(featureStorePrefix, "dataset.json");

    /// <summary><c>&lt;store&gt;completion.lease</c>: held while a coordinator completes the store, so that it is completed once.</summary>
    public static string FeatureStoreCompletionLeaseKey(string featureStorePrefix) => FileKey(featureStorePrefix, "completion.lease");

    /// <summary><c>&lt;store&gt;parts.json</c>: which shard blob holds each part file of the store's index.</summary>
    public static string FeatureStorePartsKey(string featureStorePrefix) => FileKey(featureStorePrefix, "parts.json");

    /// <summary>
    /// <c>&lt;store&gt;shards/size-00256/shard-00003-of-00029/</c>: where the feature service writes shard 3 of the 29
    /// shards of 256 clips. The key names the whole plan: the store is keyed by the dataset's fingerprint, which fixes
    /// its clips and their order, so the shard size and index fix the shard's clips, and two runs that plan the same
    /// dataset with other shard sizes (even into as many shards) never read or overwrite each other's shards.
    /// Zero-padded so that listing returns shards in index order.
    /// </summary>
    public static string ShardPrefix(string featureStorePrefix, int shardIndex, int shardCount, int shardSize)
    {
        var problem = FindPathProblem(featureStorePrefix, isPrefix: true)
                      ?? (featureStorePrefix.EndsWith('/') ? null : "must end with '/'");
        if (problem is not null)
        {
            throw new ArgumentException($"The feature store prefix '{featureStorePrefix}' {problem}.", nameof(featureStorePrefix));
        }
        if (shardCount < 1) throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount, "The shard count must be at least 1.");
        if (shardIndex < 0 || shardIndex >= shardCount)
        {
            throw new ArgumentOutOfRangeException(nameof(shardIndex), shardIndex, $"The shard index must be in [0, {shardCount}).");
        }
        if (shardSize < 1) throw new ArgumentOutOfRangeException(nameof(shardSize), shardSize, "The shard size must be at least 1.");
        return string.Create(CultureInfo.InvariantCulture,
            $"{ShardsPrefix(featureStorePrefix)}size-{shardSize:D5}/shard-{shardIndex:D5}-of-{shardCount:D5}/");
    }

    /// <summary><c>&lt;store&gt;shards/</c>: the folder of a feature store's shards (<see cref="ShardPrefix"/>).</summary>
    public static string ShardsPrefix(string featureStorePrefix) => FileKey(featureStorePrefix, "shards/");

    /// <summary>
    /// <c>&lt;shard prefix&gt;shard.json</c>: the shard's manifest, written after its feature blob, so its presence means
    /// the shard is complete.
    /// </summary>
    public static string ShardManifestKey(string shardPrefix) => FileKey(shardPrefix, ShardManifestFile);

    /// <summary>True for the key of a shard manifest (<see cref="ShardManifestKey"/>), as found listing <see cref="ShardsPrefix"/>.</summary>
    public static bool IsShardManifestKey(string key) => key.EndsWith("/" + ShardManifestFile, StringComparison.Ordinal);

    private const string ShardManifestFile = "shard.json";

    /// <summary><c>&lt;shard prefix&gt;features.f32</c>: the shard's float32 matrices, back to back.</summary>
    public static string ShardFeaturesKey(string shardPrefix) => FileKey(shardPrefix, "features.f32");

    /// <summary>Number of shards of <paramref name="shardSize"/> clips that hold <paramref name="clips"/> clips (the last may be smaller).</summary>
    public static int ShardCount(int clips, int shardSize)
    {
        if (clips < 0) throw new ArgumentOutOfRangeException(nameof(clips), clips, "The clip count must not be negative.");
        if (shardSize < 1) throw new ArgumentOutOfRangeException(nameof(shardSize), shardSize, "The shard size must be at least 1.");
        return (int)(((long)clips + shardSize - 1) / shardSize);
    }

    /// <summary>
    /// Why <paramref name="value"/> cannot be a blob key (or, with <paramref name="isPrefix"/>, a key prefix), or
    /// null. Only the structural rules a message can break by mistake (absolute path, backslash, empty, "." or
    /// ".." segment); the storage port applies its full rules when the key is used.
    /// </summary>
    public static string? FindPathProblem(string value, bool isPrefix)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0) return "is empty";
        if (value.StartsWith('/')) return "must be relative (no leading '/')";
        if (value.Contains('\\')) return "contains '\\'; separate segments with '/'";
        if (value.Any(char.IsControl)) return "contains a control character";
        var body = isPrefix && value.EndsWith('/') ? value[..^1] : value;
        foreach (var segment in body.Split('/'))
        {
            if (segment.Length == 0) return "has an empty segment";
            if (segment is "." or "..") return $"has a '{segment}' segment";
        }
        return null;
    }
}

/// <summary>
/// Queue names of the work commands, fixed here because infrastructure refers to them (a KEDA <c>rabbitmq</c>
/// scale rule watches a queue's length). They are what MassTransit's kebab-case formatter makes of consumers named
/// <c>&lt;Command&gt;Consumer</c>; a consumer definition with another class name sets <c>EndpointName</c> to one of these.
/// </summary>
public static class QueueNames
{
    /// <summary>The feature service's queue of <see cref="ExtractFeatureShard"/> commands.</summary>
    public const string ExtractFeatureShard = "extract-feature-shard";

    /// <summary>The trainer service's queue of <see cref="TrainModel"/> commands.</summary>
    public const string TrainModel = "train-model";

    /// <summary>The evaluation service's queue of <see cref="EvaluateModel"/> commands.</summary>
    public const string EvaluateModel = "evaluate-model";

    /// <summary>The runs API's queue of <see cref="SubmitRun"/> commands.</summary>
    public const string SubmitRun = "submit-run";

    /// <summary>The runs API's queue of <see cref="CancelRun"/> commands.</summary>
    public const string CancelRun = "cancel-run";

    /// <summary>The coordinator's queue of the events the services publish about runs.</summary>
    public const string RunEvents = "run-events";

    /// <summary>The queue MassTransit moves a message to after it failed for good: <c>&lt;queue&gt;_error</c>.</summary>
    public static string ErrorQueue(string queue) => queue + "_error";
}
