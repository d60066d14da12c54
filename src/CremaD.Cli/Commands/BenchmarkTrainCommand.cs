using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CremaD.Datasets;
using CremaD.Learning;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary>
/// <c>cremad benchmark train --features-dir DIR</c>: times the reference and the fast training loop side by side on
/// the same data and recipe. With more than one loop, each is measured in its own child process so that its peak
/// memory is its own.
/// </summary>
public static class BenchmarkTrainCommand
{
    public sealed record LoopSummary(
        TrainingLoop Loop,
        string Device,
        int Threads,
        int TrainClips,
        long TrainFramesPerEpoch,
        IReadOnlyList<BenchmarkEpoch> Epochs,
        double MedianEpochSeconds,
        double MedianTrainFramesPerSecond,
        long PeakWorkingSetBytes);

    public sealed record TrainingBenchmarkReport(
        string FeaturesDirectory,
        int ProcessorCount,
        IReadOnlyList<LoopSummary> Loops,
        double? FastToReferenceEpochTimeRatio);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Command Create()
    {
        var features = TrainCommand.FeaturesDir();
        var measure = new Option<int>("--measure-epochs") { Description = "Epochs to time per loop", DefaultValueFactory = _ => 3 };
        var loops = new Option<TrainingLoop[]>("--loops")
        {
            Description = "Loops to measure (reference, fast)",
            DefaultValueFactory = _ => [TrainingLoop.Reference, TrainingLoop.Fast],
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the results as JSON to this file" };
        var training = new TrainingArguments();
        var command = new Command("train",
            "Time training epochs of the reference and the fast loop on a feature store; report epoch time, frames/s and peak memory");
        command.Options.Add(features);
        command.Options.Add(measure);
        command.Options.Add(loops);
        command.Options.Add(json);
        training.AddTo(command);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var storeDir = parseResult.GetRequiredValue(features).FullName;
            var selected = parseResult.GetRequiredValue(loops).Distinct().ToArray();
            var epochs = parseResult.GetValue(measure);
            if (epochs < 1) throw new CliException("--measure-epochs must be at least 1");
            var options = training.Options(parseResult);

            var summaries = new List<LoopSummary>();
            if (selected.Length == 1)
            {
                var store = TrainCommand.OpenStore(storeDir);
                var data = TrainingStage.LoadData(store);
                console.Line($"benchmark: loop {selected[0].ToString().ToLowerInvariant()}, {data.Train.Count} train clips, {epochs} epochs");
                var result = await Task.Factory.StartNew(() => TrainingBenchmark.Run(data, options, selected[0], epochs, new EpochLines(console), cancellationToken),
                    cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                summaries.Add(new LoopSummary(result.Loop, result.Device, result.Threads, result.TrainClips, result.TrainFramesPerEpoch,
                    result.Epochs, result.MedianEpochSeconds, result.MedianTrainFramesPerSecond, result.PeakWorkingSetBytes));
            }
            else
            {
                foreach (var loop in selected)
                {
                    summaries.Add(await MeasureInChildAsync(parseResult, loop, console, cancellationToken).ConfigureAwait(false));
                }
            }

            double? ratio = null;
            if (summaries.FirstOrDefault(s => s.Loop == TrainingLoop.Reference) is { } reference
                && summaries.FirstOrDefault(s => s.Loop == TrainingLoop.Fast) is { } fast)
            {
                ratio = fast.MedianEpochSeconds / reference.MedianEpochSeconds;
            }
            foreach (var s in summaries)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"{s.Loop.ToString().ToLowerInvariant(),-9}: median epoch {s.MedianEpochSeconds:F1} s, {s.MedianTrainFramesPerSecond:F0} train frames/s, " +
                    $"peak working set {s.PeakWorkingSetBytes / (1024.0 * 1024.0):F0} MiB ({s.TrainClips} clips, {s.Device}, {s.Threads} threads)"));
            }
            if (ratio is { } r) console.Line(string.Create(CultureInfo.InvariantCulture, $"fast / reference median epoch time: {r:F2}x"));

            var report = new TrainingBenchmarkReport(storeDir, Environment.ProcessorCount, summaries, ratio);
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

    /// <summary>Runs this same command for one loop in a child process and reads back its JSON.</summary>
    private static async Task<LoopSummary> MeasureInChildAsync(ParseResult parseResult, TrainingLoop loop, CliConsole console,
        CancellationToken cancellationToken)
    {
        var jsonPath = Path.Combine(Path.GetTempPath(), $"cremad-benchmark-train-{Environment.ProcessId}-{loop}.json");
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { UseShellExecute = false, RedirectStandardOutput = true };
        // Under `dotnet cremad.dll` the process is dotnet itself: pass the assembly first.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath ?? "") == "dotnet")
            start.ArgumentList.Add(typeof(BenchmarkTrainCommand).Assembly.Location);
        var args = parseResult.Tokens.Select(t => t.Value).ToList();
        var skip = false;
        foreach (var token in args)
        {
            // Drop this invocation's own --loops and --json (and their values); the child gets one loop and a temp file.
            if (token is "--loops" or "--json") { skip = true; continue; }
            if (skip && !token.StartsWith('-')) continue;
            skip = false;
            start.ArgumentList.Add(token);
        }
        start.ArgumentList.Add("--loops");
        start.ArgumentList.Add(loop.ToString());
        start.ArgumentList.Add("--json");
        start.ArgumentList.Add(jsonPath);
        console.Line($"benchmark: measuring the {loop.ToString().ToLowerInvariant()} loop in a child process");
        using var child = Process.Start(start) ?? throw new CliException("could not start the benchmark child process");
        string? line;
        while ((line = await child.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false)) is not null)
        {
            console.Line($"  [{loop.ToString().ToLowerInvariant()}] {line}");
        }
        await child.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (child.ExitCode != 0) throw new CliException($"the {loop} benchmark failed (exit code {child.ExitCode})");
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
