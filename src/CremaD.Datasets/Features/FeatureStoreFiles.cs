using System.Text.Json;
using CremaD.Audio;
using System.Text.Json.Serialization;

namespace CremaD.Datasets;

/// <summary>
/// File names and JSON records of a feature store (a folder written by <see cref="FeatureStage"/>):
/// <code>
/// features/part-NNNNNN.f32  clips' log-mel matrices back to back, each little-endian float32, row-major [frames x 80]
/// index.json          one <see cref="FeatureStoreEntry"/> per extracted clip: where its matrix is (file, byte offset,
///                     frames) and what it was made from
/// normalisation.json  per-band mean/std over all train frames (<see cref="NormalisationFile"/>)
/// metadata.json       recipe, counts, durations, dataset fingerprint, tool version, timings (<see cref="FeatureStoreMetadata"/>)
/// rejected.json       every clip left out, with the reason (<see cref="RejectedClip"/>)
/// labels.csv          the labels the store was built from; paths relative to the data root
/// </code>
/// Clips are packed into a few append-only "part" files (one per worker per run) rather than one file per clip:
/// creating thousands of small files costs more than extracting them on common file systems. Part files are
/// never modified once written; index.json, replaced atomically at the end of a run, is the single commit
/// point, so a crashed or cancelled run never leaves a clip pointing at half-written data. Parts no index
/// entry refers to are deleted, and mostly-dead or small parts are compacted.
/// </summary>
public static class FeatureStoreFiles
{
    /// <summary>Bump when the layout or the meaning of a file changes; older stores are then rebuilt, not misread.</summary>
    public const int FormatVersion = 1;

    public const string FeaturesFolder = "features";
    public const string PartPrefix = "part-";
    public const string FeatureExtension = ".f32";
    public const string Index = "index.json";
    public const string Normalisation = "normalisation.json";
    public const string Metadata = "metadata.json";
    public const string Rejected = "rejected.json";
    public const string Labels = "labels.csv";

    /// <summary>Relative path (with '/') of part file number <paramref name="number"/> inside the store.</summary>
    public static string PartFile(int number) =>
        $"{FeaturesFolder}/{PartPrefix}{number.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)}{FeatureExtension}";

    /// <summary>The number of a part file name, or -1 for any other name.</summary>
    public static int PartNumber(string fileName)
    {
        var name = Path.GetFileName(fileName);
        if (!name.StartsWith(PartPrefix, StringComparison.Ordinal) || !name.EndsWith(FeatureExtension, StringComparison.Ordinal)) return -1;
        var digits = name[PartPrefix.Length..^FeatureExtension.Length];
        return digits.Length > 0 && digits.All(char.IsAsciiDigit) && int.TryParse(digits, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1;
    }

    /// <summary>True for "features/part-NNNNNN.f32": index entries may point nowhere else (not outside the store).</summary>
    public static bool IsPartPath(string? relativePath) =>
        relativePath is not null
        && relativePath.StartsWith(FeaturesFolder + "/", StringComparison.Ordinal)
        && relativePath.IndexOf('/', FeaturesFolder.Length + 1) < 0
        && PartNumber(relativePath) >= 0;

    /// <summary>Bytes of one clip's matrix.</summary>
    public static long ByteLength(int frames) => (long)frames * FeatureRecipe.MelBands * sizeof(float);

    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // These files are read by people and tools, never embedded in HTML: keep '+', '<', '&' readable.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // The store's own records come from compile-time metadata: the reflection serializer JIT-compiles hundreds of
        // methods the first time it meets a type, a fixed start-up cost of every `cremad features` process (measured in
        // the feature benchmark). Anything else (benchmark summaries) still works through reflection.
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(
            FeatureStoreJsonContext.Default, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
    };

    internal static T Read<T>(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<T>(stream, Json) ?? throw new DatasetFormatException(path, null, "empty JSON document");
        }
        catch (JsonException e)
        {
            throw new DatasetFormatException(path, (int?)e.LineNumber + 1, $"invalid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetFormatException(path, null, $"cannot read: {e.Message}", e);
        }
    }

    internal static void Write<T>(string path, T value) =>
        AtomicFile.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(value, Json));
}

/// <summary>Contents of index.json.</summary>
public sealed record FeatureStoreIndex(
    int Format,
    int RecipeVersion,
    int MelBands,
    string ToolVersion,
    IReadOnlyList<FeatureStoreEntry> Clips);

/// <summary>One extracted clip in index.json.</summary>
/// <param name="Path">Audio file relative to the data root.</param>
/// <param name="FeatureFile">Part file holding the clip's matrix, relative to the store.</param>
/// <param name="Offset">Byte offset of the matrix in <paramref name="FeatureFile"/>; it is <see cref="FeatureStoreFiles.ByteLength"/>(frames) long.</param>
/// <param name="SourceSize">Size of the audio file the features were made from; with <paramref name="SourceMtimeUtc"/> decides reuse.</param>
public sealed record FeatureStoreEntry(
    string Id,
    string Path,
    int Label,
    Partition Partition,
    string? Actor,
    int Frames,
    double DurationSeconds,
    int SourceSampleRate,
    long SourceSize,
    DateTime SourceMtimeUtc,
    string FeatureFile,
    long Offset,
    IReadOnlyList<string> Warnings);

/// <summary>A clip left out of the store.</summary>
/// <param name="Stage">"dataset" (file name does not follow the scheme) or "audio" (the audio could not be turned into features).</param>
public sealed record RejectedClip(
    string Path,
    string Reason,
    string Stage,
    int? Label = null,
    Partition? Partition = null,
    long? SourceSize = null,
    DateTime? SourceMtimeUtc = null);

/// <summary>Contents of rejected.json.</summary>
public sealed record RejectedFileList(string ToolVersion, int Count, IReadOnlyList<RejectedClip> Clips);

/// <summary>Contents of normalisation.json.</summary>
/// <param name="Ddof">Delta degrees of freedom of <paramref name="Std"/>: 1, the unbiased estimate (torch.std's default).</param>
/// <param name="TrainFingerprint">Hash of the train clips the statistics cover; unchanged means no recomputation.</param>
public sealed record NormalisationFile(
    float[] Mean,
    float[] Std,
    long Frames,
    int Clips,
    int Ddof,
    int RecipeVersion,
    string TrainFingerprint);

/// <summary>Durations of the extracted clips, in seconds.</summary>
public sealed record DurationSummary(double Total, double Mean, double Min, double Max);

/// <summary>What the run that last changed the store did.</summary>
public sealed record FeatureRunSummary(
    DateTime StartedUtc,
    int NumWorkers,
    int Extracted,
    int Reused,
    int Rejected,
    int Removed,
    bool NormalisationRecomputed,
    double Seconds,
    double ClipsPerSecond,
    FeatureStageTimings Timings);

/// <summary>Contents of metadata.json.</summary>
public sealed record FeatureStoreMetadata(
    int Format,
    string ToolVersion,
    IReadOnlyDictionary<string, object> Recipe,
    string DataRoot,
    DatasetLayout Layout,
    string? LabelsPath,
    int? SplitSeed,
    string? DemographicsPath,
    string DatasetFingerprint,
    IReadOnlyList<string> ClassCodes,
    int Clips,
    int Rejected,
    long Frames,
    IReadOnlyDictionary<string, int> ClipsPerPartition,
    IReadOnlyDictionary<string, int[]> ClipsPerClass,
    IReadOnlyDictionary<string, int> ActorsPerPartition,
    DurationSummary Durations,
    FeatureRunSummary LastRun,
    LabelSource LabelsFrom = LabelSource.Acted)
{
    /// <summary>
    /// The metadata of a store holding <paramref name="accepted"/>: counts per partition, class and actor, and the clip
    /// durations, computed one way for the local feature stage and for the distributed one.
    /// </summary>
    public static FeatureStoreMetadata Describe(IReadOnlyList<FeatureStoreEntry> accepted, int rejected, string dataRoot,
        DatasetLayout layout, string? labelsPath, int? splitSeed, string? demographicsPath, string fingerprint, FeatureRunSummary run,
        LabelSource labelsFrom = LabelSource.Acted)
    {
        var partitions = Enum.GetValues<Partition>();
        var perPartition = partitions.ToDictionary(p => p.ToName(), p => accepted.Count(e => e.Partition == p));
        var perClass = partitions.ToDictionary(p => p.ToName(), p =>
        {
            var counts = new int[Emotions.Count];
            foreach (var e in accepted.Where(e => e.Partition == p)) counts[e.Label]++;
            return counts;
        });
        var actors = partitions.ToDictionary(p => p.ToName(),
            p => accepted.Where(e => e.Partition == p && e.Actor is not null).Select(e => e.Actor).Distinct().Count());
        var durations = accepted.Count == 0
            ? new DurationSummary(0, 0, 0, 0)
            : new DurationSummary(accepted.Sum(e => e.DurationSeconds), accepted.Average(e => e.DurationSeconds),
                accepted.Min(e => e.DurationSeconds), accepted.Max(e => e.DurationSeconds));
        return new FeatureStoreMetadata(FeatureStoreFiles.FormatVersion, FeatureStage.ToolVersion, FeatureRecipe.Describe(), dataRoot,
            layout, labelsPath, splitSeed, demographicsPath, fingerprint, Emotions.Codes,
            accepted.Count, rejected, accepted.Sum(e => (long)e.Frames), perPartition, perClass, actors, durations, run, labelsFrom);
    }
}

/// <summary>Compile-time JSON metadata of the feature store's files (see <see cref="FeatureStoreFiles.Json"/>).</summary>
[JsonSourceGenerationOptions(GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(FeatureStoreIndex))]
[JsonSerializable(typeof(RejectedFileList))]
[JsonSerializable(typeof(NormalisationFile))]
[JsonSerializable(typeof(FeatureStoreMetadata))]
// The recipe's values are typed object: their runtime types.
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(float))]
[JsonSerializable(typeof(bool))]
internal sealed partial class FeatureStoreJsonContext : JsonSerializerContext;
