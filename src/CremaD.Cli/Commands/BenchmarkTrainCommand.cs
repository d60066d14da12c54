using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CremaD.Datasets;
using CremaD.Learning;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary>
/// <c>cremad benchmark train --features-dir DIR</c>: times the reference and the fast training loop, at one or more
/// thread counts, on the same data and recipe, and reports epoch time, frames/s, the arithmetic rate (GFLOP/s, from
/// <see cref="TrainingFlops"/>) against the machine's assumed peak, and the speed-up over the fewest threads. With more
/// than one measurement, each runs in its own child process, one after the other, so that its peak memory and
/// LibTorch thread state are its own.
/// </summary>
public static class BenchmarkTrainCommand
{
    /// <param name="LoadAverageBefore">The host's 1/5/15-minute load averages before the measurement (Linux; null elsewhere).</param>
    /// <param name="FractionOfPeak">MedianTrainGflops over the whole machine's assumed peak.</param>
    public sealed record LoopSummary(
        TrainingLoop Loop,
        string Device,
        int Threads,
        int TrainClips,
        long TrainFramesPerEpoch,
        IReadOnlyList<BenchmarkEpoch> Epochs,
        double MedianEpochSeconds,
        double MedianTrainFramesPerSecond,
        long PeakWorkingSetBytes,
        double FlopsPerTrainFrame = 0,
        double MedianTrainGflops = 0,
        double? FractionOfPeak = null,
        double[]? LoadAverageBefore = null,
        double[]? LoadAverageAfter = null);

    /// <summary>How much faster a loop ran with <paramref name="Threads"/> threads than with <paramref name="BaseThreads"/>.</summary>
    /// <param name="EpochSpeedup">Median epoch time (training + validation) at BaseThreads over that at Threads.</param>
    /// <param name="TrainSpeedup">The same for the training pass alone (train frames/s ratio).</param>
    public sealed record ThreadSpeedup(TrainingLoop Loop, int BaseThreads, int Threads, double EpochSpeedup, double TrainSpeedup);

    /// <param name="PeakGflops">The whole machine's assumed FP32 peak, 10⁹ FLOP/s (see <see cref="MachinePeak"/>).</param>
    public sealed record TrainingBenchmarkReport(
        string FeaturesDirectory,
        int ProcessorCount,
        IReadOnlyList<LoopSummary> Loops,
        double? FastToReferenceEpochTimeRatio,
        string? FlopFormula = null,
        double? PeakGflops = null,
        string? PeakAssumption = null,
        IReadOnlyList<ThreadSpeedup>? ThreadSpeedups = null);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Command Create()
    {
        var features = TrainCommand.FeaturesDir();
        var measure = new Option<int>("--measure-epochs") { Description = "Epochs to time per measurement", DefaultValueFactory = _ => 3 };
        var loops = new Option<TrainingLoop[]>("--loops")
        {
            Description = "Loops to measure (reference, fast)",
            DefaultValueFactory = _ => [TrainingLoop.Reference, TrainingLoop.Fast],
            AllowMultipleArgumentsPerToken = true,
        };
        var threads = new Option<int[]>("--threads")
        {
            Description = "Thread counts to measure each loop with, e.g. --threads 1,2 or --threads 1 2 (default: every core)",
            DefaultValueFactory = _ => [Environment.ProcessorCount],
            AllowMultipleArgumentsPerToken = true,
            CustomParser = ParseThreadCounts,
        };
        var peak = new Option<double?>("--peak-gflops")
        {
            Description = "The machine's FP32 peak in GFLOP/s, for the fraction-of-peak figure (default: estimated, see the output)",
        };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var training = new TrainingArguments();
        var command = new Command("train",
            "Time training epochs of the reference and the fast loop at one or more thread counts on a feature store; report epoch time, " +
            "frames/s, GFLOP/s against the machine's peak, the speed-up over the fewest threads, and peak memory");
        command.Options.Add(features);
        command.Options.Add(measure);
        command.Options.Add(loops);
        command.Options.Add(threads);
        command.Options.Add(peak);
        command.Options.Add(json);
        training.AddTo(command, includeThreads: false);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var storeDir = parseResult.GetRequiredValue(features).FullName;
            var selected = parseResult.GetRequiredValue(loops).Distinct().ToArray();
            var threadCounts = parseResult.GetRequiredValue(threads).Distinct().Order().ToArray();
            var epochs = parseResult.GetValue(measure);
            if (epochs < 1) throw new CliException("--measure-epochs must be at least 1");
            if (parseResult.GetValue(peak) is <= 0) throw new CliException("--peak-gflops must be positive");
            var options = training.Options(parseResult);
            var machine = parseResult.GetValue(peak) is { } given
                ? new MachinePeak(given, "given with --peak-gflops")
                : MachinePeak.Estimate();

            var summaries = new List<LoopSummary>();
            if (selected.Length == 1 && threadCounts.Length == 1)
            {
                var store = TrainCommand.OpenStore(storeDir);
                var data = TrainingStage.LoadData(store);
                console.Line($"benchmark: loop {selected[0].ToString().ToLowerInvariant()}, {threadCounts[0]} threads, {data.Train.Count} train clips, {epochs} epochs");
                var loadBefore = LoadAverages();
                var result = await Task.Factory.StartNew(
                    () => TrainingBenchmark.Run(data, options with { Threads = threadCounts[0] }, selected[0], epochs, new EpochLines(console), cancellationToken),
                    cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                summaries.Add(new LoopSummary(result.Loop, result.Device, result.Threads, result.TrainClips, result.TrainFramesPerEpoch,
                    result.Epochs, result.MedianEpochSeconds, result.MedianTrainFramesPerSecond, result.PeakWorkingSetBytes,
                    result.FlopsPerTrainFrame, result.MedianTrainGflops, result.MedianTrainGflops / machine.Gflops, loadBefore, LoadAverages()));
            }
            else
            {
                // Back to back, loop by loop, fewest threads first: a ratio is best measured close together in time.
                foreach (var loop in selected)
                {
                    foreach (var count in threadCounts)
                    {
                        var summary = await MeasureInChildAsync(parseResult, loop, count, console, cancellationToken).ConfigureAwait(false);
                        summaries.Add(summary with { FractionOfPeak = summary.MedianTrainGflops / machine.Gflops });
                    }
                }
            }

            double? ratio = null;
            var common = summaries.Where(s => s.Loop == TrainingLoop.Reference).Select(s => s.Threads)
                .Intersect(summaries.Where(s => s.Loop == TrainingLoop.Fast).Select(s => s.Threads)).DefaultIfEmpty(-1).Max();
            if (common > 0)
            {
                ratio = summaries.Single(s => s.Loop == TrainingLoop.Fast && s.Threads == common).MedianEpochSeconds
                    / summaries.Single(s => s.Loop == TrainingLoop.Reference && s.Threads == common).MedianEpochSeconds;
            }
            var speedups = new List<ThreadSpeedup>();
            foreach (var group in summaries.GroupBy(s => s.Loop))
            {
                var baseline = group.MinBy(s => s.Threads)!;
                foreach (var s in group.Where(s => s.Threads != baseline.Threads))
                {
                    speedups.Add(new ThreadSpeedup(group.Key, baseline.Threads, s.Threads, baseline.MedianEpochSeconds / s.MedianEpochSeconds,
                        s.MedianTrainFramesPerSecond / baseline.MedianTrainFramesPerSecond));
                }
            }

            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"FLOP per train frame: {summaries[0].FlopsPerTrainFrame / 1e6:F2} M ({TrainingFlops.Formula})"));
            console.Line(string.Create(CultureInfo.InvariantCulture, $"machine peak assumed: {machine.Gflops:F0} GFLOP/s ({machine.Assumption})"));
            foreach (var s in summaries)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Loop.ToString().ToLowerInvariant(),-9} {s.Threads,2} threads: median epoch {s.MedianEpochSeconds:F1} s, {s.MedianTrainFramesPerSecond:F0} train frames/s, " +
                    $"{s.MedianTrainGflops:F1} GFLOP/s ({s.FractionOfPeak:P0} of peak), peak working set {s.PeakWorkingSetBytes / (1024.0 * 1024.0):F0} MiB " +
                    $"({s.TrainClips} clips, {s.Device}; load average {Describe(s.LoadAverageBefore)} before, {Describe(s.LoadAverageAfter)} after)"));
            }
            foreach (var s in speedups)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Loop.ToString().ToLowerInvariant()}: {s.Threads} threads vs {s.BaseThreads}: epoch {s.EpochSpeedup:F2}x faster, training pass {s.TrainSpeedup:F2}x"));
            }
            if (ratio is { } r) console.Line(string.Create(CultureInfo.InvariantCulture, $"fast / reference median epoch time ({common} threads): {r:F2}x"));

            var report = new TrainingBenchmarkReport(storeDir, Environment.ProcessorCount, summaries, ratio, TrainingFlops.Formula,
                machine.Gflops, machine.Assumption, speedups);
            if (parseResult.GetValue(json) is { } jsonFile)
            {
                if (jsonFile.DirectoryName is { Length: > 0 } folder) Directory.CreateDirectory(folder);
                File.WriteAllText(jsonFile.FullName, JsonSerializer.Serialize(report, Json));
                console.Line($"wrote {jsonFile.FullName}");
            }
            return CliConsole.ExitOk;
        });
        return command;
    }

    /// <summary>Thread counts as separate tokens and/or comma-separated: "1,2", "1 2", "1, 2".</summary>
    private static int[] ParseThreadCounts(ArgumentResult result)
    {
        var counts = new List<int>();
        foreach (var token in result.Tokens)
        {
            foreach (var part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
                {
                    result.AddError($"--threads takes whole numbers of at least 1, got '{part}'");
                    return [];
                }
                counts.Add(count);
            }
        }
        if (counts.Count == 0) result.AddError("--threads needs at least one thread count");
        return counts.ToArray();
    }

    /// <summary>/proc/loadavg's three load averages, or null where there is none: the benchmark shares the machine.</summary>
    private static double[]? LoadAverages()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return fields.Take(3).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static string Describe(double[]? load) =>
        load is null ? "n/a" : string.Join(" ", load.Select(l => l.ToString("F2", CultureInfo.InvariantCulture)));

    /// <summary>Runs this same command for one loop and thread count in a child process and reads back its JSON.</summary>
    private static async Task<LoopSummary> MeasureInChildAsync(ParseResult parseResult, TrainingLoop loop, int threads, CliConsole console,
        CancellationToken cancellationToken)
    {
        var name = $"{loop.ToString().ToLowerInvariant()}, {threads} threads";
        var jsonPath = Path.Combine(Path.GetTempPath(), $"cremad-benchmark-train-{Environment.ProcessId}-{loop}-{threads}.json");
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        // Under `dotnet cremad.dll` the process is dotnet itself: pass the assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath ?? "") == "dotnet")
            start.ArgumentList.Add(typeof(BenchmarkTrainCommand).Assembly.Location);
        var args = parseResult.Tokens.Select(t => t.Value).ToList();
        var skip = false;
        foreach (var token in args)
        {
            // Drop this invocation's own --loops, --threads and --json (and their values); the child gets one of each.
            if (token is "--loops" or "--threads" or "--json") { skip = true; continue; }
            if (skip && !token.StartsWith('-')) continue;
            skip = false;
            start.ArgumentList.Add(token);
        }
        start.ArgumentList.Add("--loops");
        start.ArgumentList.Add(loop.ToString());
        start.ArgumentList.Add("--threads");
        start.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("--json");
        start.ArgumentList.Add(jsonPath);
        console.Line($"benchmark: measuring the {name} in a child process");
        using var child = Process.Start(start) ?? throw new CliException("could not start the benchmark child process");
        string? line;
        while ((line = await child.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false)) is not null)
        {
            console.Line($"  [{name}] {line}");
        }
        await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (child.ExitCode != 0) throw new CliException($"the {name} benchmark failed (exit code {child.ExitCode})");
        try
        {
            var report = JsonSerializer.Deserialize<TrainingBenchmarkReport>(await File.ReadAllTextAsync(jsonPath, cancellationToken).ConfigureAwait(false), Json)
                ?? throw new CliException($"{jsonPath}: empty benchmark result");
            return report.Loops.Single();
        }
        finally
        {
            File.Delete(jsonPath);
        }
    }

    private sealed class EpochLines(CliConsole console) : ITrainingObserver
    {
        public void OnEpochCompleted(EpochProgress progress) =>
            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"epoch {progress.Record.Epoch}: {progress.Record.Seconds:F1} s (train loss {progress.Record.TrainLoss:F4}, val acc {progress.Record.ValidationAccuracy:P1})"));
    }
}
