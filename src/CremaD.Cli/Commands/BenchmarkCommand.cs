using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CremaD.Datasets;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad benchmark features</c>: cold feature-stage runs, timed (and <c>benchmark train</c>, in its own file).</summary>
public static class BenchmarkCommand
{
    public static Command Create()
    {
        var command = new Command("benchmark", "Measure the speed of a stage, or compare models");
        command.Subcommands.Add(CreateFeatures());
        command.Subcommands.Add(BenchmarkTrainCommand.Create());
        command.Subcommands.Add(BenchmarkModelsCommand.Create());
        return command;
    }

    /// <summary>One timed run.</summary>
    public sealed record FeatureRun(
        int Run,
        int Clips,
        int Rejected,
        double Seconds,
        double ClipsPerSecond,
        double AudioSecondsPerSecond,
        long PeakWorkingSetBytes,
        FeatureStageTimings Timings);

    public sealed record FeatureBenchmark(
        string DataRoot,
        int Clips,
        double AudioSeconds,
        int NumWorkers,
        int ProcessorCount,
        string Runtime,
        string Os,
        string ToolVersion,
        IReadOnlyList<FeatureRun> Runs,
        double MedianSeconds,
        double MedianClipsPerSecond,
        double MedianAudioSecondsPerSecond,
        long PeakWorkingSetBytes);

    private static Command CreateFeatures()
    {
        var dataset = new DatasetArguments();
        var workers = CommonOptions.NumWorkers();
        var runs = new Option<int>("--runs") { Description = "Number of cold runs", DefaultValueFactory = _ => 3 };
        runs.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1) r.AddError("--runs must be at least 1");
        });
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var command = new Command("features",
            "Run the feature stage cold (fresh temporary store, no cache) several times and report clips/s, audio-s/s and peak memory");
        dataset.AddTo(command);
        command.Options.Add(workers);
        command.Options.Add(runs);
        command.Options.Add(json);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var data = dataset.Open(parseResult);
            var numWorkers = parseResult.GetValue(workers);
            var runCount = parseResult.GetValue(runs);
            console.Line($"dataset: {data.Root} ({DatasetArguments.Describe(data)})");
            console.Line($"benchmark: {runCount} cold run(s), {numWorkers} worker(s), {Environment.ProcessorCount} processor(s), {RuntimeInformation.FrameworkDescription}");

            var results = new List<FeatureRun>();
            double audioSeconds = 0;
            for (var run = 1; run <= runCount; run++)
            {
                var store = Path.Combine(Path.GetTempPath(), $"cremad-benchmark-{Environment.ProcessId}-{run}");
                try
                {
                    if (Directory.Exists(store)) Directory.Delete(store, recursive: true);
                    var options = new FeatureStageOptions { NumWorkers = numWorkers, Force = true };
                    var result = await console.WithFeatureProgressAsync($"run {run}",
                        progress => FeatureStage.RunAsync(data, store, options, progress, cancellationToken)).ConfigureAwait(false);
                    using var process = Process.GetCurrentProcess();
                    audioSeconds = result.AudioSeconds;
                    var measured = new FeatureRun(run, result.Clips, result.Rejected, result.Seconds, result.ClipsPerSecond,
                        result.AudioSeconds / result.Seconds, process.PeakWorkingSet64, result.Timings);
                    results.Add(measured);
                    console.Line(Format(measured));
                }
                finally
                {
                    if (Directory.Exists(store)) Directory.Delete(store, recursive: true);
                }
            }

            var summary = new FeatureBenchmark(data.Root, data.Clips.Count, audioSeconds, numWorkers, Environment.ProcessorCount,
                RuntimeInformation.FrameworkDescription, RuntimeInformation.OSDescription, FeatureStage.ToolVersion, results,
                Median(results.Select(r => r.Seconds)), Median(results.Select(r => r.ClipsPerSecond)),
                Median(results.Select(r => r.AudioSecondsPerSecond)), results.Max(r => r.PeakWorkingSetBytes));
            console.Line($"median: {summary.MedianSeconds.ToString("F2", CultureInfo.InvariantCulture)} s, " +
                $"{summary.MedianClipsPerSecond.ToString("F0", CultureInfo.InvariantCulture)} clips/s, " +
                $"{summary.MedianAudioSecondsPerSecond.ToString("F0", CultureInfo.InvariantCulture)} audio-s/s, " +
                $"peak working set {summary.PeakWorkingSetBytes / (1024.0 * 1024.0):F0} MiB");
            var medianRun = results.OrderBy(r => r.Seconds).ElementAt(results.Count / 2);
            console.Line(FormatBreakdown(medianRun.Timings));

            if (parseResult.GetValue(json) is { } jsonFile)
            {
                if (jsonFile.DirectoryName is { Length: > 0 } folder) Directory.CreateDirectory(folder);
                AtomicFile.WriteAllBytes(jsonFile.FullName, JsonSerializer.SerializeToUtf8Bytes(summary, FeatureStoreFiles.Json));
                console.Line($"wrote {jsonFile.FullName}");
            }
            return CliConsole.ExitOk;
        });
        return command;
    }

    private static string Format(FeatureRun r) =>
        string.Create(CultureInfo.InvariantCulture,
            $"run {r.Run}: {r.Clips} clips ({r.Rejected} rejected) in {r.Seconds:F2} s: {r.ClipsPerSecond:F0} clips/s, " +
            $"{r.AudioSecondsPerSecond:F0} audio-s/s, peak working set {r.PeakWorkingSetBytes / (1024.0 * 1024.0):F0} MiB");

    /// <summary>Where the time goes: wall-clock phases, and per-clip steps summed over workers.</summary>
    private static string FormatBreakdown(FeatureStageTimings t)
    {
        var workerTotal = t.WorkerReadSeconds + t.WorkerFeatureSeconds + t.WorkerStatsSeconds + t.WorkerWriteSeconds;
        string Share(double seconds) => workerTotal > 0 ? $"{100 * seconds / workerTotal:F0}%" : "-";
        return string.Create(CultureInfo.InvariantCulture,
            $"breakdown (median run): plan {t.PlanSeconds:F2} s, extract {t.ExtractSeconds:F2} s, normalisation {t.NormalisationSeconds:F2} s, write {t.WriteSeconds:F2} s; " +
            $"worker time: read {t.WorkerReadSeconds:F2} s ({Share(t.WorkerReadSeconds)}), decode+features {t.WorkerFeatureSeconds:F2} s ({Share(t.WorkerFeatureSeconds)}), " +
            $"stats {t.WorkerStatsSeconds:F2} s ({Share(t.WorkerStatsSeconds)}), write {t.WorkerWriteSeconds:F2} s ({Share(t.WorkerWriteSeconds)})");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
