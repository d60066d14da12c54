using System.Globalization;

namespace CremaD.Contracts;

/// <summary>
/// Where a run's blobs live, so that the runs API, the services and the CLI agree without asking each other.
/// Every value is a key prefix of the storage port (CremaD.Storage.IBlobStore): relative, '/'-separated and
/// ending with '/'. Messages carry the concrete prefixes and keys they refer to, so a consumer never rebuilds
/// them; these helpers are for the service that plans the work.
/// </summary>
public static class BlobLayout
{
    /// <summary>Top folder of run outputs.</summary>
    public const string RunsFolder = "runs";

    /// <summary>Top folder of feature stores shared by runs.</summary>
    public const string FeaturesFolder = "features";

    /// <summary>
    /// The trained model's files in a model prefix that a client of the runs API downloads as artefacts: the weights and the
    /// manifest that makes them usable on their own (CremaD.Learning.ModelFiles' names; Contracts cannot reference it, a test
    /// pins them equal).
    /// </summary>
    public static IReadOnlyList<string> ModelArtifactFiles { get; } = ["best_model", "model.json"];

    /// <summary><c>runs/&lt;run id, 32 hex digits&gt;/</c>: the model, history, plots and metrics of one run.</summary>
    public static string RunPrefix(Guid runId)
    {
        if (runId == Guid.Empty) throw new ArgumentException("The run id must not be empty.", nameof(runId));
        return $"{RunsFolder}/{runId:N}/";
    }

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

    /// <summary>
    /// <c>&lt;store&gt;shards/shard-00003-of-00029/</c>: where the feature service writes shard 3 of 29. Zero-padded so
    /// that listing the store returns shards in index order.
    /// </summary>
    public static string ShardPrefix(string featureStorePrefix, int shardIndex, int shardCount)
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
        return string.Create(CultureInfo.InvariantCulture, $"{ShardsPrefix(featureStorePrefix)}shard-{shardIndex:D5}-of-{shardCount:D5}/");
    }

    /// <summary><c>&lt;store&gt;shards/</c>: the folder of a feature store's shards (<see cref="ShardPrefix"/>).</summary>
    public static string ShardsPrefix(string featureStorePrefix) => featureStorePrefix + "shards/";

    /// <summary>
    /// <c>&lt;shard prefix&gt;shard.json</c>: the shard's manifest, written after its feature blob, so its presence means
    /// the shard is complete.
    /// </summary>
    public static string ShardManifestKey(string shardPrefix) => shardPrefix + ShardManifestFile;

    /// <summary>True for the key of a shard manifest (<see cref="ShardManifestKey"/>), as found listing <see cref="ShardsPrefix"/>.</summary>
    public static bool IsShardManifestKey(string key) => key.EndsWith("/" + ShardManifestFile, StringComparison.Ordinal);

    private const string ShardManifestFile = "shard.json";

    /// <summary><c>&lt;shard prefix&gt;features.f32</c>: the shard's float32 matrices, back to back.</summary>
    public static string ShardFeaturesKey(string shardPrefix) => shardPrefix + "features.f32";

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

    /// <summary>The queue MassTransit moves a message to after it failed for good: <c>&lt;queue&gt;_error</c>.</summary>
    public static string ErrorQueue(string queue) => queue + "_error";
}
