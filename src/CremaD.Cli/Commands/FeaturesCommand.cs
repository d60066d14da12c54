using System.CommandLine;
using System.Globalization;
using CremaD.Datasets;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad features --data-root DIR --output-dir DIR</c>: the feature stage.</summary>
public static class FeaturesCommand
{
    /// <summary>How many rejected clips are listed on the console; all of them are in rejected.json.</summary>
    private const int RejectedShown = 10;

    public static Command Create()
    {
        var dataset = new DatasetArguments();
        var outputDir = new Option<DirectoryInfo>("--output-dir", "-o")
        {
            Description = "Feature store folder (created; reused incrementally on later runs)",
            Required = true,
        };
        var workers = CommonOptions.NumWorkers();
        var force = new Option<bool>("--force") { Description = "Extract every clip again, ignoring the store's cache" };

        var command = new Command("features", "Extract every clip's log-mel features into a feature store, with train-set normalisation");
        dataset.AddTo(command);
        command.Options.Add(outputDir);
        command.Options.Add(workers);
        command.Options.Add(force);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var data = dataset.Open(parseResult);
            // Files the dataset left out (official layout, bad names) are listed with the stage's rejections below.
            console.Line($"dataset: {data.Root} ({DatasetArguments.Describe(data)})");

            var options = new FeatureStageOptions { NumWorkers = parseResult.GetValue(workers), Force = parseResult.GetValue(force) };
            var output = parseResult.GetRequiredValue(outputDir).FullName;
            var result = await console.WithFeatureProgressAsync("features",
                progress => FeatureStage.RunAsync(data, output, options, progress, cancellationToken)).ConfigureAwait(false);
            PrintSummary(console, result);
            return CliConsole.ExitOk;
        });
        return command;
    }

    public static void PrintSummary(CliConsole console, FeatureStageResult result)
    {
        var inv = CultureInfo.InvariantCulture;
        if (result.UpToDate)
        {
            console.Line($"features: up to date, nothing to do: {result.Reused} clips reused, {result.Rejected} rejected " +
                $"(checked in {result.Seconds.ToString("F2", inv)} s)");
        }
        else
        {
            var rate = result.Extracted > 0
                ? $" ({result.ClipsPerSecond.ToString("F0", inv)} clips/s, {(result.AudioSeconds / result.Seconds).ToString("F0", inv)} s of audio per s)"
                : "";
            console.Line($"features: {result.Extracted} extracted, {result.Reused} reused, {result.Rejected} rejected, {result.Removed} removed " +
                $"in {result.Seconds.ToString("F2", inv)} s{rate}");
            console.Line(result.NormalisationRecomputed ? "normalisation: recomputed over the train partition" : "normalisation: train set unchanged, kept");
        }
        foreach (var rejected in result.RejectedClips.Take(RejectedShown)) console.Line($"rejected: {rejected.Path}: {rejected.Reason}");
        if (result.RejectedClips.Count > RejectedShown)
        {
            console.Line($"rejected: ... and {result.RejectedClips.Count - RejectedShown} more (see {FeatureStoreFiles.Rejected})");
        }
        console.Line($"store: {result.OutputDir} ({result.Clips} clips)");
        if (console.Verbose)
        {
            var t = result.Timings;
            console.Line($"timings: plan {t.PlanSeconds:F3} s, extract {t.ExtractSeconds:F3} s, normalisation {t.NormalisationSeconds:F3} s, write {t.WriteSeconds:F3} s; " +
                $"worker time: read {t.WorkerReadSeconds:F3} s, decode+features {t.WorkerFeatureSeconds:F3} s, stats {t.WorkerStatsSeconds:F3} s, write {t.WorkerWriteSeconds:F3} s");
        }
    }
}
