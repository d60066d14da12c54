using System.CommandLine;
using CremaD.Datasets;
using CremaD.Learning;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad evaluate --model-dir DIR --features-dir DIR</c>: the evaluation artefacts of a trained model.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = ModelDir();
        var features = TrainCommand.FeaturesDir();
        var output = new Option<DirectoryInfo?>("--output-dir", "-o") { Description = "Where the artefacts go (default: the model directory)" };
        var partition = new Option<string>("--partition") { Description = "train, validation or test", DefaultValueFactory = _ => "test" };
        var device = new Option<DeviceChoice>("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => DeviceChoice.Auto };
        var command = new Command("evaluate",
            "Evaluate a trained model on a partition: classification_report.json, test_metrics.json, confusion_matrix.png, training_curves.png");
        command.Options.Add(model);
        command.Options.Add(features);
        command.Options.Add(output);
        command.Options.Add(partition);
        command.Options.Add(device);

        CliConsole.SetAction(command, (parseResult, console, cancellationToken) =>
        {
            var modelDir = parseResult.GetRequiredValue(model).FullName;
            var outputDir = parseResult.GetValue(output)?.FullName ?? modelDir;
            if (!PartitionNames.TryParse(parseResult.GetRequiredValue(partition), out var which))
                throw new CliException($"unknown partition '{parseResult.GetValue(partition)}' (train, validation or test)");
            var store = TrainCommand.OpenStore(parseResult.GetRequiredValue(features).FullName);
            var result = EvaluationStage.Run(modelDir, store, outputDir, which, parseResult.GetValue(device), cancellationToken: cancellationToken);
            PrintEvaluation(console, result);
            return Task.FromResult(CliConsole.ExitOk);
        });
        return command;
    }

    public static Option<DirectoryInfo> ModelDir() => new("--model-dir", "-m")
    {
        Description = "Model directory (best_model + model.json) written by `cremad train` or `cremad run`",
        Required = true,
    };

    public static void PrintEvaluation(CliConsole console, EvaluationResult result)
    {
        var metrics = result.Summary.Metrics;
        console.Line($"{result.Partition.ToName()}: accuracy {metrics.Accuracy:P2}, macro F1 {metrics.MacroF1:F4} on {result.Clips} clips");
        foreach (var c in result.Summary.Report.Classes)
        {
            console.Line($"  {c.Name,-10} precision {c.Precision:F3}  recall {c.Recall:F3}  f1 {c.F1:F3}  support {c.Support}");
        }
        console.Line($"artifacts: {Path.GetDirectoryName(result.Summary.ReportPath)}");
    }
}
