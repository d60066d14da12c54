using System.CommandLine;
using System.Globalization;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad cv --features-dir DIR --folds K -o DIR</c>: speaker-independent k-fold cross-validation (<see cref="CrossValidation"/>).</summary>
public static class CrossValidationCommand
{
    /// <summary>Most folds: CREMA-D has 91 actors, and each fold needs test and validation speakers.</summary>
    public const int MaxFolds = CremaD.Datasets.FoldSplit.MaxCount;

    public static Command Create()
    {
        var features = TrainCommand.FeaturesDir();
        var output = new Option<DirectoryInfo>("--output-dir", "-o")
        {
            Description = $"Where fold-N/ (model, evaluation, model card), the merged evaluation and model card, and {CrossValidation.ResultMarkdown} go; a rerun skips finished folds",
            Required = true,
        };
        var folds = new Option<int>("--folds", "-k") { Description = $"Number of folds (3..{MaxFolds})", DefaultValueFactory = _ => 5 };
        folds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 3 or > MaxFolds) r.AddError($"--folds must be in 3..{MaxFolds} (a fold tests, the next one validates, the rest train)");
        });
        var foldSeed = new Option<int>("--fold-seed") { Description = "Seed of the actor shuffle that forms the folds", DefaultValueFactory = _ => 42 };
        var training = new TrainingArguments();
        var command = new Command("cv",
            "Speaker-independent k-fold cross-validation on a feature store: actors in sex-balanced folds, one model per fold; per-fold and mean ± sd " +
            "metrics, every clip's out-of-fold prediction pooled into one classification report and one model card");
        command.Options.Add(features);
        command.Options.Add(output);
        command.Options.Add(folds);
        command.Options.Add(foldSeed);
        training.AddTo(command);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var store = TrainCommand.OpenStore(parseResult.GetRequiredValue(features).FullName);
            var options = training.Options(parseResult);
            var outputDir = parseResult.GetRequiredValue(output).FullName;
            CrossValidationResult result;
            try
            {
                result = await Task.Factory.StartNew(() => CrossValidation.Run(store, parseResult.GetValue(folds), parseResult.GetValue(foldSeed), options,
                    outputDir, console.Line, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                throw new CliException(e.Message);
            }
            console.Line("");
            console.Line(CrossValidation.Markdown(result));
            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"cross-validation: accuracy {100 * result.AccuracyMean:F1} ± {100 * result.AccuracySd:F1} %, macro-F1 {result.MacroF1Mean:F3} ± {result.MacroF1Sd:F3} over {result.Folds} folds"));
            console.Line($"wrote {Path.Combine(outputDir, CrossValidation.ResultMarkdown)}");
            return CliConsole.ExitOk;
        });
        return command;
    }
}
