using System.CommandLine;
using CremaD.Datasets;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad run</c>: features → train → evaluate in one go; with no --data-root, on the built-in demo dataset.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var dataset = new DatasetArguments(dataRootRequired: false);
        var output = new Option<DirectoryInfo?>("--output-dir", "-o") { Description = "Where every artefact goes (default: ./artifacts/<run-id>/)" };
        var featuresDir = new Option<DirectoryInfo?>("--features-dir") { Description = "A feature store to use and update (default: <output-dir>/features)" };
        var resume = new Option<bool>("--resume") { Description = "Continue an interrupted run in --output-dir from its last checkpoint" };
        var workers = CommonOptions.NumWorkers();
        // One --seed drives both the actor split (official layout) and training, as the original scripts' single seed did.
        var training = new TrainingArguments(sharedSeed: dataset.Seed);
        var command = new Command("run",
            "Features, training and evaluation in one go; every artefact under --output-dir. Without --data-root: the built-in demo dataset");
        dataset.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(featuresDir);
        command.Options.Add(resume);
        command.Options.Add(workers);
        training.AddTo(command);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var root = parseResult.GetValue(dataset.DataRoot)?.FullName;
            if (root is null)
            {
                root = DemoDataset.Locate();
                console.Line($"no --data-root given: using the built-in demo dataset ({root})");
            }
            var data = DatasetReader.Open(root, dataset.Options(parseResult));
            console.Line($"dataset: {data.Root} ({DatasetArguments.Describe(data)})");
            var options = training.Options(parseResult);
            var runId = LocalRun.NewRunId();
            var outputDir = parseResult.GetValue(output)?.FullName ?? Path.Combine(Directory.GetCurrentDirectory(), "artifacts", runId);
            if (parseResult.GetValue(output) is not null) runId = Path.GetFileName(outputDir.TrimEnd(Path.DirectorySeparatorChar));
            console.Line($"run {runId}: output {outputDir}");

            var request = new RunRequest(data, outputDir, options, new FeatureStageOptions { NumWorkers = parseResult.GetValue(workers) },
                parseResult.GetValue(featuresDir)?.FullName, parseResult.GetValue(resume), runId);
            var outcome = await RunProgress.ShowAsync(console, progress => LocalRun.ExecuteAsync(request, progress, cancellationToken))
                .ConfigureAwait(false);

            EvaluateCommand.PrintEvaluation(console, outcome.Evaluation);
            foreach (var rejected in outcome.Manifest.RejectedClips.Take(10)) console.Line($"rejected: {rejected.Path}: {rejected.Reason}");
            console.Line($"run {runId} finished in {outcome.Manifest.Durations.Total:F1} s: test accuracy {outcome.Manifest.Results.TestAccuracy:P2}, " +
                $"macro F1 {outcome.Manifest.Results.TestMacroF1:F4}");
            console.Line($"artifacts: {outputDir}");
            return CliConsole.ExitOk;
        });
        return command;
    }
}
