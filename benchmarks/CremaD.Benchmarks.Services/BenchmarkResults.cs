using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CremaD.Benchmarks.Services;

/// <summary>Peak resident memory of one process (VmHWM), read just before it was stopped.</summary>
public sealed record ProcessMemory(string Name, string Host, double PeakMemoryMib);

/// <summary>One distributed run with <see cref="FeatureInstances"/> feature-service processes, on a fresh container.</summary>
/// <param name="FeatureSeconds">RunStatus FeaturesStartedAt → FeaturesReadyAt: plan made to feature store complete.</param>
/// <param name="ClipsPerSecond">Clips processed (extracted + rejected audio) per second of <paramref name="FeatureSeconds"/>.</param>
/// <param name="AudioSecondsPerSecond">Seconds of audio extracted per second of <paramref name="FeatureSeconds"/>.</param>
/// <param name="TrainingSeconds">FeaturesReadyAt → TrainingCompletedAt (hand-over, staging and training).</param>
/// <param name="EvaluationSeconds">TrainingCompletedAt → FinishedAt (hand-over, staging, evaluation, upload).</param>
/// <param name="TotalSeconds">SubmittedAt → FinishedAt, as the run's status records them.</param>
/// <param name="ClientSeconds">From the POST to the first GET that saw the run finished.</param>
/// <param name="ShardSecondsSum">The shards' own wall times (download, extraction, upload; shard.json's seconds), summed: with
/// <paramref name="FeatureSeconds"/> it tells the work in the shards from the hand-overs between them.</param>
/// <param name="ShardSecondsMax">The slowest shard.</param>
/// <param name="StartupSeconds">Starting the service processes until all answered /health (not part of the run).</param>
public sealed record DistributedResult(
    int FeatureInstances,
    Guid RunId,
    string Stage,
    int Shards,
    int Clips,
    double FeatureSeconds,
    double ClipsPerSecond,
    double AudioSecondsPerSecond,
    double ShardSecondsSum,
    double ShardSecondsMax,
    double TrainingSeconds,
    double EvaluationSeconds,
    double TotalSeconds,
    double ClientSeconds,
    int EpochsRun,
    double? TestAccuracy,
    double StartupSeconds,
    double UploadSeconds,
    IReadOnlyList<ProcessMemory> Processes,
    IReadOnlyList<string> Errors);

/// <summary>The same run through the local pipeline (LocalRun, what `cremad run` calls), in this process.</summary>
public sealed record LocalResult(
    int Clips,
    double FeatureSeconds,
    double ClipsPerSecond,
    double TrainingSeconds,
    double EvaluationSeconds,
    double TotalSeconds,
    int EpochsRun,
    double TestAccuracy,
    double PeakMemoryMib);

/// <summary>Distributed total wall time over local total wall time.</summary>
public sealed record Overhead(int FeatureInstances, double DistributedOverLocal, double DistributedFeaturesOverLocal);

/// <summary>Where the numbers were taken: the load average says how busy the (shared) machine was.</summary>
public sealed record MachineInfo(int Processors, string Os, string DotNet, string BuildConfiguration, string LoadAverageBefore,
    string LoadAverageAfter);

public sealed record BenchmarkResults(
    DateTimeOffset StartedAt,
    MachineInfo Machine,
    string DataRoot,
    int DatasetClips,
    IReadOnlyDictionary<string, object> Config,
    IReadOnlyList<DistributedResult> Distributed,
    LocalResult? Local,
    IReadOnlyList<Overhead> Overheads)
{
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The human-readable report.</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(inv, $"dataset  {DataRoot} ({DatasetClips} clips)");
        text.AppendLine(inv, $"config   {string.Join(' ', Config.Select(c => $"{c.Key}={Format(c.Value)}"))}");
        text.AppendLine(inv, $"machine  {Machine.Processors} processors, {Machine.Os}, .NET {Machine.DotNet}, {Machine.BuildConfiguration} build; " +
                             $"load average before {Machine.LoadAverageBefore}, after {Machine.LoadAverageAfter}");
        text.AppendLine();
        text.AppendLine("distributed (separate processes; RabbitMQ + Azurite on this machine)");
        text.AppendLine("  feature  shards  clips  features s  clips/s  audio s/s  shard s sum/max  training s  evaluation s  total s  stage");
        foreach (var d in Distributed)
        {
            text.AppendLine(inv, $"  {d.FeatureInstances,7}  {d.Shards,6}  {d.Clips,5}  {d.FeatureSeconds,10:F2}  {d.ClipsPerSecond,7:F0}  {d.AudioSecondsPerSecond,9:F0}  " +
                                 $"{$"{d.ShardSecondsSum:F1}/{d.ShardSecondsMax:F1}",15}  {d.TrainingSeconds,10:F2}  {d.EvaluationSeconds,12:F2}  {d.TotalSeconds,7:F2}  {d.Stage}");
            text.AppendLine(inv, $"           peak memory: {string.Join(", ", d.Processes.Select(p => $"{p.Name} {p.PeakMemoryMib:F0} MiB"))}");
            foreach (var error in d.Errors) text.AppendLine(inv, $"           error: {error}");
        }
        if (Local is { } local)
        {
            text.AppendLine();
            text.AppendLine("local (LocalRun, what `cremad run` runs; in this process)");
            text.AppendLine(inv, $"  features {local.FeatureSeconds:F2} s ({local.ClipsPerSecond:F0} clips/s), training {local.TrainingSeconds:F2} s, " +
                                 $"evaluation {local.EvaluationSeconds:F2} s, total {local.TotalSeconds:F2} s; peak memory {local.PeakMemoryMib:F0} MiB");
        }
        foreach (var o in Overheads)
        {
            text.AppendLine(inv, $"  distributed/local with {o.FeatureInstances} feature service(s): total {o.DistributedOverLocal:F2}x, feature stage {o.DistributedFeaturesOverLocal:F2}x");
        }
        return text.ToString();
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
