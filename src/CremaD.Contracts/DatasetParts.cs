using System.Text.Json.Serialization;

namespace CremaD.Contracts;

/// <summary>How a dataset under a blob prefix is laid out (CremaD.Datasets.DatasetLayout). Wire names: "auto", "course", "official".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DatasetLayoutChoice>))]
public enum DatasetLayoutChoice
{
    /// <summary><c>labels.csv</c> at the prefix → course; <c>AudioWAV/</c> under it → official.</summary>
    [JsonStringEnumMemberName("auto")] Auto,

    /// <summary><c>train/ validation/ test/</c> and <c>labels.csv</c> with the columns <c>path,class,partition</c>.</summary>
    [JsonStringEnumMemberName("course")] Course,

    /// <summary><c>AudioWAV/1001_DFA_ANG_XX.wav</c>, label in the name, split by actor (<c>VideoDemographics.csv</c> beside it).</summary>
    [JsonStringEnumMemberName("official")] Official,
}

/// <summary>Which emotion labels a run trains and tests on (CremaD.Datasets.LabelSource). Wire names: "acted", "perceived".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LabelSourceChoice>))]
public enum LabelSourceChoice
{
    /// <summary>The emotion the actor portrayed: the file name's code, or labels.csv's class.</summary>
    [JsonStringEnumMemberName("acted")] Acted,

    /// <summary>The majority of CREMA-D's crowd ratings of the voice (summaryTable.csv); clips without one are rejected.</summary>
    [JsonStringEnumMemberName("perceived")] Perceived,
}

/// <summary>Where a clip is used (CremaD.Datasets.Partition). Wire names are the course layout's: "train", "validation", "test".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ClipPartition>))]
public enum ClipPartition
{
    [JsonStringEnumMemberName("train")] Train,
    [JsonStringEnumMemberName("validation")] Validation,
    [JsonStringEnumMemberName("test")] Test,
}

/// <summary>Which step left a clip out. Wire names: "dataset", "audio".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RejectionStage>))]
public enum RejectionStage
{
    /// <summary>The dataset description: a file name outside the CREMA-D scheme, a labels.csv row that points nowhere, ...</summary>
    [JsonStringEnumMemberName("dataset")] Dataset,

    /// <summary>The audio could not be turned into features: not a WAV, unsupported encoding, too short, non-finite samples, ...</summary>
    [JsonStringEnumMemberName("audio")] Audio,
}

/// <summary>
/// A dataset in blob storage: the key prefix of its root (the folder that holds <c>labels.csv</c> or
/// <c>AudioWAV/</c>), e.g. <c>datasets/crema-d/</c>.
/// </summary>
/// <param name="Prefix">Blob key prefix of the dataset root, ending with '/'.</param>
/// <param name="Layout">Force a layout, or detect it.</param>
/// <param name="SplitSeed">Official layout: seed of the actor split (the course layout's partitions come from labels.csv).</param>
/// <param name="LabelsFrom">Acted or perceived emotions; the labels are part of the dataset's fingerprint, so each has its own feature store.</param>
/// <summary>
/// One fold of a speaker-independent cross-validation (a sweep's run): the dataset's clips are regrouped by actor
/// into <paramref name="Count"/> sex-balanced folds (CremaD.Datasets.ActorFolds, shuffled with <paramref name="Seed"/>);
/// fold <paramref name="Index"/> (1-based) is the test partition, the next one the validation partition, the rest train.
/// </summary>
public sealed record FoldRef(int Index, int Count, int Seed = 42)
{
    /// <summary>Most folds (as <c>cremad cv</c>): each needs test and validation speakers, and CREMA-D has 91 actors.</summary>
    public const int MaxCount = 30;

    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems();
        if (Count is < 3 or > MaxCount) problems.Add($"fold count must be in 3..{MaxCount} (one fold tests, the next validates, the rest train), got {Count}.");
        else if (Index < 1 || Index > Count) problems.Add($"fold index must be in 1..{Count}, got {Index}.");
        return problems.List;
    }
}

/// <param name="Fold">A cross-validation fold whose partitions replace the layout's; null: the layout's partitions.</param>
public sealed record DatasetRef(string Prefix, DatasetLayoutChoice Layout = DatasetLayoutChoice.Auto, int SplitSeed = 42,
    LabelSourceChoice LabelsFrom = LabelSourceChoice.Acted, FoldRef? Fold = null)
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().BlobPath("prefix", Prefix, isPrefix: true);
        if (!string.IsNullOrEmpty(Prefix) && !Prefix.EndsWith('/')) problems.Add($"prefix '{Prefix}' must end with '/'.");
        // Datasets live under datasets/: a run must not read the runs' models or the feature stores as a "dataset".
        if (!string.IsNullOrEmpty(Prefix) && (!Prefix.StartsWith(BlobLayout.DatasetsFolder + "/", StringComparison.Ordinal)
                                              || Prefix.Length <= BlobLayout.DatasetsFolder.Length + 1))
        {
            problems.Add($"prefix '{Prefix}' must be a dataset folder under {BlobLayout.DatasetsFolder}/ (datasets/<name>/).");
        }
        problems.Defined("layout", Layout).Defined("labels_from", LabelsFrom);
        foreach (var problem in Fold?.FindProblems() ?? []) problems.Add(problem);
        return problems.List;
    }
}

/// <summary>One clip a feature shard is to extract.</summary>
/// <param name="Key">Blob key of the WAV file.</param>
/// <param name="Id">The clip's id in the feature store (CremaD.Datasets.ClipEntry.Id), unique in the dataset.</param>
/// <param name="Label">Class id: an index into the six emotion codes ANG DIS FEA HAP NEU SAD.</param>
/// <param name="Actor">Speaker id (e.g. "1001") when known.</param>
/// <param name="Packed">
/// Where the clip's bytes are when the dataset was uploaded packed (<c>cremad dataset upload</c>): a range of a pack blob
/// that holds many clips, so a shard reads them in a few requests. Null: the bytes are the blob <paramref name="Key"/>,
/// which then names the clip only.
/// </param>
public sealed record ShardClip(string Key, string Id, int Label, ClipPartition Partition, string? Actor = null, BlobRange? Packed = null)
{
    /// <summary>Number of classes a label may index (the CREMA-D emotions).</summary>
    public const int ClassCount = 6;

    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().BlobPath("key", Key, isPrefix: false).NotBlank("id", Id).Defined("partition", Partition);
        if (Label is < 0 or >= ClassCount) problems.Add($"label must be a class id in [0, {ClassCount}), got {Label}.");
        if (Packed is not null) problems.AddNested("packed", Packed.FindProblems());
        return problems.List;
    }
}

/// <summary><paramref name="Length"/> bytes of the blob <paramref name="Key"/> from <paramref name="Offset"/>.</summary>
public sealed record BlobRange(string Key, long Offset, int Length)
{
    /// <summary>The most bytes one clip may take (about 11 minutes of 48 kHz stereo 16-bit audio); a longer range is refused.</summary>
    public const int MaxLength = 128 * 1024 * 1024;

    /// <summary>Where the range ends (exclusive).</summary>
    public long End => Offset + Length;

    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().BlobPath("key", Key, isPrefix: false).AtLeast("offset", Offset, 0);
        if (Length is < 1 or > MaxLength) problems.Add($"length must be in [1, {MaxLength}] bytes, got {Length}.");
        return problems.List;
    }
}

/// <summary>One clip a shard extracted: where its matrix is in the shard's feature blob.</summary>
/// <param name="Frames">Rows of the clip's [frames x 80] float32 matrix.</param>
/// <param name="Offset">Byte offset of the matrix in the shard's feature blob; it is frames x 80 x 4 bytes long.</param>
/// <param name="DurationSeconds">Length of the audio.</param>
/// <param name="Warnings">Things worth knowing that did not stop extraction (resampled, clipped samples, ...).</param>
public sealed record ExtractedClip(
    string Key,
    string Id,
    int Label,
    ClipPartition Partition,
    string? Actor,
    int Frames,
    long Offset,
    double DurationSeconds,
    IReadOnlyList<string> Warnings)
{
    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().BlobPath("key", Key, isPrefix: false).NotBlank("id", Id).Defined("partition", Partition)
            .AtLeast("frames", Frames, 1).AtLeast("offset", Offset, 0).Finite("durationSeconds", DurationSeconds)
            .Required("warnings", Warnings);
        if (Label is < 0 or >= ShardClip.ClassCount) problems.Add($"label must be a class id in [0, {ShardClip.ClassCount}), got {Label}.");
        return problems.List;
    }
}

/// <summary>A clip left out of the run, and why; the run goes on without it.</summary>
/// <param name="Key">Blob key (or dataset-relative path) of the file.</param>
/// <param name="Reason">Why, in words a user can act on ("not a RIFF/WAVE file", "shorter than one 1024-sample frame").</param>
public sealed record ClipRejection(string Key, string Reason, RejectionStage Stage)
{
    public IReadOnlyList<string> FindProblems() =>
        new Problems().NotBlank("key", Key).NotBlank("reason", Reason).Defined("stage", Stage).List;
}

/// <summary>
/// Per-band statistics of a set of feature frames, in float64: the frame count, the mean and the sum of squared
/// deviations from the mean (M2) of each of the 80 log-mel bands. This is the representation the local feature
/// stage reduces with (CremaD.Datasets.NormalisationAccumulator, Chan et al.'s pairwise update): unlike raw sums
/// and sums of squares it does not lose the variance to cancellation when the mean is large against the spread.
/// A shard reports the statistics of its TRAIN clips; the coordinator merges the shards in index order (the
/// result is then independent of which shard finished first) and takes the unbiased standard deviation
/// sqrt(M2 / (frames - 1)), as torch.std does.
/// </summary>
/// <param name="Frames">Number of frames summarised; 0 for none (then <paramref name="Mean"/> and <paramref name="M2"/> are all zero).</param>
/// <param name="Clips">Number of clips the frames came from.</param>
public sealed record BandMoments(long Frames, int Clips, double[] Mean, double[] M2)
{
    /// <summary>Bands of the feature recipe (CremaD.Audio.FeatureRecipe.MelBands).</summary>
    public const int Bands = 80;

    /// <summary>No frames at all: what a shard without train clips reports.</summary>
    public static BandMoments Empty(int bands = Bands) => new(0, 0, new double[bands], new double[bands]);

    public IReadOnlyList<string> FindProblems()
    {
        var problems = new Problems().AtLeast("frames", Frames, 0).AtLeast("clips", Clips, 0);
        if (Mean is null || M2 is null)
        {
            return problems.Required("mean", Mean).Required("m2", M2).List;
        }
        if (Mean.Length != Bands || M2.Length != Bands)
        {
            problems.Add($"mean and m2 must each have {Bands} bands, got {Mean.Length} and {M2.Length}.");
        }
        if (Frames > 0 && Clips == 0) problems.Add($"clips must be at least 1 when there are {Frames} frames.");
        if (Mean.Any(v => !double.IsFinite(v)) || M2.Any(v => !double.IsFinite(v))) problems.Add("mean and m2 must be finite.");
        else if (M2.Any(v => v < 0)) problems.Add("m2 (sums of squared deviations) must not be negative.");
        if (Frames == 0 && (Mean.Any(v => v != 0) || M2.Any(v => v != 0))) problems.Add("mean and m2 must be zero when there are no frames.");
        return problems.List;
    }
}
