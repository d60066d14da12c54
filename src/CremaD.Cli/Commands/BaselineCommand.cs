using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Learning;

namespace CremaD.Cli.Commands;

/// <summary>
/// <c>cremad baseline --features-dir DIR</c>: the linear reference (<see cref="LinearBaseline"/>) on a feature store's
/// partitions, so a model's numbers can be read against what utterance statistics alone reach.
/// </summary>
public static class BaselineCommand
{
    public const string ResultFile = "baseline_metrics.json";

    public static Command Create()
    {
        var features = TrainCommand.FeaturesDir();
        var output = new Option<DirectoryInfo?>("--output-dir", "-o") { Description = $"Where {ResultFile} and the test classification report go (default: print only)" };
        var inverseRegularisation = new Option<double>("--c")
        {
            Description = "Inverse L2 strength, as scikit-learn's C",
            DefaultValueFactory = _ => LinearBaseline.DefaultInverseRegularisation,
        };
        inverseRegularisation.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<double>();
            if (!(value > 0 && value <= 1e6)) result.AddError("--c must be in (0, 1e6]");
        });
        var iterations = new Option<int>("--iterations") { Description = "Most L-BFGS iterations", DefaultValueFactory = _ => LinearBaseline.DefaultIterations };
        iterations.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value < 1 || value > 100_000) result.AddError("--iterations must be in 1..100000");
        });
        var command = new Command("baseline",
            "Logistic regression on each clip's per-band log-mel mean and standard deviation: the linear reference for a model's accuracy");
        command.Options.Add(features);
        command.Options.Add(output);
        command.Options.Add(inverseRegularisation);
        command.Options.Add(iterations);
        CliConsole.SetAction(command, (parseResult, console, cancellationToken) =>
        {
            var store = TrainCommand.OpenStore(parseResult.GetRequiredValue(features).FullName);
            var result = LinearBaseline.Fit(store, Emotions.Names, parseResult.GetValue(inverseRegularisation), parseResult.GetValue(iterations));
            foreach (var score in result.Scores)
            {
                console.Line(string.Create(CultureInfo.InvariantCulture,
                    $"baseline {score.Partition,-10}: accuracy {100 * score.Accuracy:F1} %, macro F1 {score.MacroF1:F3} ({score.Clips} clips)"));
            }
            console.Line(string.Create(CultureInfo.InvariantCulture, $"fitted in {result.Seconds:F1} s (C = {result.InverseRegularisation}, final objective {result.Objective:F6})"));
            if (parseResult.GetValue(output) is { } directory)
            {
                Directory.CreateDirectory(directory.FullName);
                AtomicFile.WriteAllText(Path.Combine(directory.FullName, ResultFile), JsonSerializer.Serialize(
                    new { model = "logistic regression on per-band log-mel mean and std", c = result.InverseRegularisation, result.Iterations, result.Objective, result.Seconds,
                        scores = result.Scores.Select(s => new { partition = s.Partition, clips = s.Clips, accuracy = s.Accuracy, macro_f1 = s.MacroF1 }) },
                    new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                result.TestReport.Save(Path.Combine(directory.FullName, ArtifactNames.ClassificationReport));
                console.Line($"wrote {Path.Combine(directory.FullName, ResultFile)}");
            }
            return Task.FromResult(CliConsole.ExitOk);
        });
        return command;
    }
}
