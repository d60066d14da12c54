using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CremaD.Benchmarks.Services;

/// <summary>What one process used: peak resident memory (VmHWM) and CPU time, read just before it was stopped.</summary>
/// <param name="CpuSeconds">User + system CPU time over the run (the storage emulator and the broker, which serve every
/// round: what they used from the submission to the run's end).</param>
public sealed record ProcessUsage(string Name, string Host, double PeakMemoryMib, double CpuSeconds);

/// <summary>One distributed run with <see cref="FeatureInstances"/> feature-service processes, on a fresh container.</summary>
/// <param name="FeatureSeconds">RunStatus FeaturesStartedAt → FeaturesReadyAt: plan made to feature store complete.</param>
/// <param name="ClipsPerSecond">Clips processed (extracted + rejected audio) per second of <paramref name="FeatureSeconds"/>.</param>
/// <param name="AudioSecondsPerSecond">Seconds of audio extracted per second of <paramref name="FeatureSeconds"/>.</param>
/// <param name="TrainingSeconds">FeaturesReadyAt → TrainingCompletedAt (hand-over, staging and training).</param>
/// <param name="TrainingStartSeconds">FeaturesReadyAt → TrainingStartedAt: hand-over to the trainer, staging the features, building the model.</param>
/// <param name="EpochSeconds">The epochs' own wall times, summed (the rest of <paramref name="TrainingSeconds"/> is hand-over, staging and upload).</param>
/// <param name="EvaluationSeconds">TrainingCompletedAt → FinishedAt (hand-over, staging, evaluation, upload).</param>
/// <param name="TotalSeconds">SubmittedAt → FinishedAt, as the run's status records them.</param>
/// <param name="ClientSeconds">From the POST to the first GET that saw the run finished.</param>
/// <param name="ShardSecondsSum">The shards' own wall times (download, extraction, upload; shard.json's seconds), summed: with
/// <paramref name="FeatureSeconds"/> it tells the work in the shards from the hand-overs between them.</param>
/// <param name="ShardSecondsMax">The slowest shard.</param>
/// <param name="StartupSeconds">Starting the service processes until all answered /health (not part of the run).</param>
public sealed record DistributedResult(
    int FeatureInstances,
    int Round,
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
    double TrainingStartSeconds,
    double EpochSeconds,
    double EvaluationSeconds,
    double TotalSeconds,
    double ClientSeconds,
    int EpochsRun,
    double? TestAccuracy,
    double StartupSeconds,
    double UploadSeconds,
    IReadOnlyList<ProcessUsage> Processes,
    IReadOnlyList<string> Errors);

/// <summary>The same run through the local pipeline (LocalRun, what `cremad run` calls), in this process.</summary>
public sealed record LocalResult(
    int Round,
    int Clips,
    double FeatureSeconds,
    double ClipsPerSecond,
    double TrainingSeconds,
    double EpochSeconds,
    double EvaluationSeconds,
    double TotalSeconds,
    int EpochsRun,
    double TestAccuracy,
    double PeakMemoryMib,
    double CpuSeconds);

/// <summary>One configuration's figures: the median over the rounds of each (NaN where the mode does not measure it).</summary>
/// <param name="Path">"local" or "N feature service(s)".</param>
/// <param name="PeakMemoryMib">Median peak resident memory per process name (the local run: this process).</param>
public sealed record ConfigurationMedians(
    string Path,
    int Rounds,
    double FeatureSeconds,
    double ClipsPerSecond,
    double TrainingSeconds,
    double EpochSeconds,
    double EvaluationSeconds,
    double TotalSeconds,
    IReadOnlyDictionary<string, double> PeakMemoryMib);

/// <summary>Ratios of medians: distributed over local, and N feature services against one.</summary>
/// <param name="TotalOverLocal">Median distributed total over median local total (≤ 1.10 is the target).</param>
/// <param name="FeatureClipsPerSecondOverLocal">Median distributed feature clips/s over median local clips/s (≥ 0.5 is the target).</param>
/// <param name="FeatureSpeedupOverOneService">Median clips/s over one feature service's median clips/s (≥ 1.7 for two where the cores allow).</param>
public sealed record Ratios(int FeatureInstances, double TotalOverLocal, double FeatureClipsPerSecondOverLocal, double FeatureSpeedupOverOneService);

/// <summary>Where the numbers were taken: the load average says how busy the (shared) machine was.</summary>
public sealed record MachineInfo(int Processors, string Os, string DotNet, string BuildConfiguration, string LoadAverageBefore,
    string LoadAverageAfter);

public sealed record BenchmarkResults(
    DateTimeOffset StartedAt,
    MachineInfo Machine,
    string DataRoot,
    int DatasetClips,
    IReadOnlyDictionary<string, object> Config,
    IReadOnlyList<ConfigurationMedians> Medians,
    IReadOnlyList<Ratios> Ratios,
    IReadOnlyList<DistributedResult> Distributed,
    IReadOnlyList<LocalResult> Local)
{
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The samples with their medians and the ratios of those medians.</summary>
    public static BenchmarkResults Create(DateTimeOffset startedAt, MachineInfo machine, string dataRoot, int datasetClips,
        IReadOnlyDictionary<string, object> config, IReadOnlyList<DistributedResult> distributed, IReadOnlyList<LocalResult> local)
    {
        var medians = new List<ConfigurationMedians>();
        if (local.Count > 0)
        {
            medians.Add(new ConfigurationMedians("local", local.Count, Median(local, l => l.FeatureSeconds), Median(local, l => l.ClipsPerSecond),
                Median(local, l => l.TrainingSeconds), Median(local, l => l.EpochSeconds), Median(local, l => l.EvaluationSeconds), Median(local, l => l.TotalSeconds),
                new Dictionary<string, double> { ["local process"] = Median(local, l => l.PeakMemoryMib) }));
        }
        foreach (var group in distributed.GroupBy(d => d.FeatureInstances).OrderBy(g => g.Key))
        {
            var runs = group.ToList();
            var memory = runs.SelectMany(r => r.Processes).Where(p => !double.IsNaN(p.PeakMemoryMib)).GroupBy(p => p.Name)
                .ToDictionary(p => p.Key, p => Median(p.ToList(), m => m.PeakMemoryMib));
            medians.Add(new ConfigurationMedians(PathName(group.Key), runs.Count, Median(runs, r => r.FeatureSeconds), Median(runs, r => r.ClipsPerSecond),
                Median(runs, r => r.TrainingSeconds), Median(runs, r => r.EpochSeconds), Median(runs, r => r.EvaluationSeconds), Median(runs, r => r.TotalSeconds), memory));
        }
        var localMedians = medians.FirstOrDefault(m => m.Path == "local");
        var one = medians.FirstOrDefault(m => m.Path == PathName(1));
        var ratios = distributed.Select(d => d.FeatureInstances).Distinct().Order()
            .Select(n => medians.Single(m => m.Path == PathName(n)))
            .Select(m => new Ratios(
                int.Parse(m.Path.Split(' ')[0], CultureInfo.InvariantCulture),
                localMedians is null ? double.NaN : m.TotalSeconds / localMedians.TotalSeconds,
                localMedians is null ? double.NaN : m.ClipsPerSecond / localMedians.ClipsPerSecond,
                one is null ? double.NaN : m.ClipsPerSecond / one.ClipsPerSecond))
            .ToList();
        return new BenchmarkResults(startedAt, machine, dataRoot, datasetClips, config, medians, ratios, distributed, local);
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The human-readable report: medians first, then every sample.</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(inv, $"dataset  {DataRoot} ({DatasetClips} clips)");
        text.AppendLine(inv, $"config   {string.Join(' ', Config.Select(c => $"{c.Key}={Format(c.Value)}"))}");
        text.AppendLine(inv, $"machine  {Machine.Processors} processors, {Machine.Os}, .NET {Machine.DotNet}, {Machine.BuildConfiguration} build; " +
                             $"load average before {Machine.LoadAverageBefore}, after {Machine.LoadAverageAfter}");
        text.AppendLine();
        text.AppendLine("medians over the rounds");
        text.AppendLine("  path                   rounds  features s  clips/s  training s (epochs)  evaluation s  total s  peak memory (MiB)");
        foreach (var m in Medians)
        {
            text.AppendLine(inv, $"  {m.Path,-21}  {m.Rounds,6}  {m.FeatureSeconds,10:F2}  {m.ClipsPerSecond,7:F0}  {$"{m.TrainingSeconds:F2} ({m.EpochSeconds:F2})",19}  " +
                                 $"{m.EvaluationSeconds,12:F2}  {m.TotalSeconds,7:F2}  {string.Join(", ", m.PeakMemoryMib.Select(p => $"{p.Key} {p.Value:F0}"))}");
        }
        text.AppendLine();
        foreach (var r in Ratios)
        {
            text.AppendLine(inv, $"  {PathName(r.FeatureInstances)}: total/local {r.TotalOverLocal:F2}x, feature clips/s vs local {r.FeatureClipsPerSecondOverLocal:F2}x, " +
                                 $"clips/s vs one service {r.FeatureSpeedupOverOneService:F2}x");
        }
        text.AppendLine();
        text.AppendLine("samples");
        text.AppendLine("  round  path                   shards  clips  features s  clips/s  shard s sum/max  training s (start, epochs)  evaluation s  total s  stage");
        foreach (var l in Local)
        {
            text.AppendLine(inv, $"  {l.Round,5}  {"local",-21}  {"",6}  {l.Clips,5}  {l.FeatureSeconds,10:F2}  {l.ClipsPerSecond,7:F0}  {"",15}  " +
                                 $"{$"{l.TrainingSeconds:F2} (-, {l.EpochSeconds:F2})",26}  {l.EvaluationSeconds,12:F2}  {l.TotalSeconds,7:F2}  test accuracy {l.TestAccuracy:F3}");
            text.AppendLine(inv, $"         cpu s: local process {l.CpuSeconds:F1}");
        }
        foreach (var d in Distributed)
        {
            text.AppendLine(inv, $"  {d.Round,5}  {PathName(d.FeatureInstances),-21}  {d.Shards,6}  {d.Clips,5}  {d.FeatureSeconds,10:F2}  {d.ClipsPerSecond,7:F0}  " +
                                 $"{$"{d.ShardSecondsSum:F1}/{d.ShardSecondsMax:F1}",15}  {$"{d.TrainingSeconds:F2} ({d.TrainingStartSeconds:F2}, {d.EpochSeconds:F2})",26}  {d.EvaluationSeconds,12:F2}  {d.TotalSeconds,7:F2}  " +
                                 $"{d.Stage}{(d.TestAccuracy is { } a ? $", test accuracy {a:F3}" : "")}");
            text.AppendLine(inv, $"         cpu s: {string.Join(", ", d.Processes.Select(p => $"{p.Name} {p.CpuSeconds:F1}"))}");
            foreach (var error in d.Errors) text.AppendLine(inv, $"         error: {error}");
        }
        return text.ToString();
    }

    private static string PathName(int featureInstances) => featureInstances == 1 ? "1 feature service" : $"{featureInstances} feature services";

    private static double Median<T>(IReadOnlyList<T> items, Func<T, double> value)
    {
        var values = items.Select(value).Where(v => !double.IsNaN(v)).Order().ToList();
        if (values.Count == 0) return double.NaN;
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[values.Count / 2 - 1] + values[values.Count / 2]) / 2;
    }

    private static string Format(object value) => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
