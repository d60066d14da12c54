using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Pipeline;

/// <summary>Software that produced a run, so a result can be traced back to the code and runtime.</summary>
public sealed record SoftwareVersions(string CremaD, string TorchSharp, string LibTorch, string DotNet, string Os)
{
    public static SoftwareVersions Current() => new(
        Version(typeof(RunManifest).Assembly),
        Version(typeof(global::TorchSharp.torch).Assembly),
        global::TorchSharp.torch.__version__,
        Environment.Version.ToString(),
        System.Runtime.InteropServices.RuntimeInformation.OSDescription);

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString() ?? "unknown";
}

/// <summary>The dataset a run used, as the feature store recorded it.</summary>
public sealed record RunDataset(
    string Root,
    string Layout,
    string Fingerprint,
    int Clips,
    int Rejected,
    IReadOnlyDictionary<string, int> ClipsPerPartition,
    IReadOnlyDictionary<string, int> ActorsPerPartition,
    double AudioHours,
    LabelSource LabelsFrom = LabelSource.Acted);

/// <summary>Wall-clock seconds per stage.</summary>
public sealed record RunDurations(double Features, double Training, double Evaluation, double Total);

/// <summary>The headline results of a run.</summary>
public sealed record RunResults(
    int BestEpoch,
    double BestValidationAccuracy,
    int EpochsRun,
    bool StoppedEarly,
    double TestAccuracy,
    double TestMacroF1,
    int TestClips);

/// <summary>run.json: everything needed to audit or reproduce a run.</summary>
public sealed record RunManifest(
    string RunId,
    DateTimeOffset StartedAt,
    DateTimeOffset FinishedAt,
    string OutputDirectory,
    string FeaturesDirectory,
    TrainingOptions Training,
    IReadOnlyDictionary<string, object> FeatureRecipe,
    RunDataset Dataset,
    string Device,
    int Threads,
    SoftwareVersions Versions,
    RunDurations Durations,
    RunResults Results,
    IReadOnlyList<RejectedClip> RejectedClips)
{
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        // run.json is read by people: keep characters such as '<' and '≤' as they are.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>
    /// The manifest of a run that trained on <paramref name="store"/>: the recipe, dataset description and rejected clips
    /// come from the store, the versions from this process. Used by <c>cremad run</c> (local folders) and by the
    /// evaluation service (the same run.json for a distributed run, where the directories are blob locations).
    /// </summary>
    public static RunManifest Create(string runId, DateTimeOffset startedAt, DateTimeOffset finishedAt, string outputDirectory,
        string featuresDirectory, TrainingOptions training, string device, int threads, FeatureStore store, RunDurations durations,
        RunResults results)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new RunManifest(runId, startedAt, finishedAt, outputDirectory, featuresDirectory, training, CremaD.Audio.FeatureRecipe.Describe(),
            DescribeDataset(store), device, threads, SoftwareVersions.Current(), durations, results, store.Rejected);
    }

    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static RunManifest Read(string path) =>
        JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), Json)
        ?? throw new InvalidDataException($"{path}: empty run manifest.");

    private static RunDataset DescribeDataset(FeatureStore store)
    {
        var m = store.Metadata;
        return new RunDataset(m.DataRoot, m.Layout.ToString().ToLowerInvariant(), m.DatasetFingerprint, m.Clips, m.Rejected,
            m.ClipsPerPartition, m.ActorsPerPartition, m.Durations.Total / 3600.0, m.LabelsFrom);
    }
}
