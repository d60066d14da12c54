using System.CommandLine;
using CremaD.Datasets;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad train --features-dir DIR --output-dir DIR</c>: train on a feature store.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var features = FeaturesDir();
        var output = new Option<DirectoryInfo>("--output-dir", "-o") { Description = "Where best_model, model.json, history.json and the checkpoint go", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the interrupted run in --output-dir from its last checkpoint" };
        var training = new TrainingArguments();
        var command = new Command("train", "Train the BiGRU emotion classifier on a feature store (see `cremad features`)");
        command.Options.Add(features);
        command.Options.Add(output);
        command.Options.Add(resume);
        training.AddTo(command);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var store = OpenStore(parseResult.GetRequiredValue(features).FullName);
            var options = training.Options(parseResult);
            var outputDir = parseResult.GetRequiredValue(output).FullName;
            var result = await RunProgress.ShowAsync(console, progress =>
                Task.Factory.StartNew(() => TrainingStage.Run(store, outputDir, options, parseResult.GetValue(resume), progress, cancellationToken),
                    cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ConfigureAwait(false);
            console.Line($"best epoch {result.BestEpoch} of {result.EpochsRun}: validation accuracy {result.BestValidationAccuracy:P2}" +
                (result.StoppedEarly ? " (stopped early)" : ""));
            console.Line($"model: {result.BestModelPath}");
            return CliConsole.ExitOk;
        });
        return command;
    }

    public static Option<DirectoryInfo> FeaturesDir() => new("--features-dir", "-f")
    {
        Description = "Feature store written by `cremad features`",
        Required = true,
    };

    /// <summary>Opens a feature store, turning "not a store" into a one-line user error.</summary>
    public static FeatureStore OpenStore(string directory)
    {
        if (!FeatureStore.IsComplete(directory))
            throw new CliException($"{directory}: not a complete feature store (run `cremad features --data-root ... --output-dir {directory}` first)");
        return FeatureStore.Open(directory);
    }
}
