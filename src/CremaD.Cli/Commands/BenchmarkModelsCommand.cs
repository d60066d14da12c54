using System.CommandLine;
using CremaD.Datasets;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary>
/// <c>cremad benchmark models</c>: the model comparison (<see cref="ModelComparison"/>): the default model against the
/// seed's and the linear baseline, over several seeds and feature stores, with an ablation on request.
/// </summary>
public static class BenchmarkModelsCommand
{
    public static Command Create()
    {
        var features = new Option<DirectoryInfo[]>("--features-dir", "-f")
        {
            Description = "Feature store(s) to compare on (repeat the option for several)",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<DirectoryInfo>("--output-dir", "-o")
        {
            Description = $"Where every run's model and result go, and {ModelComparison.ResultMarkdown} / {ModelComparison.ResultJson}; a rerun skips finished runs",
            Required = true,
        };
        var variants = new Option<string[]>("--variants")
        {
            Description = $"Models to compare: {string.Join(", ", ComparisonVariant.All.Select(v => v.Name))}",
            DefaultValueFactory = _ => ["seed", "statpool", "baseline"],
            AllowMultipleArgumentsPerToken = true,
            CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
        };
        var ablation = new Option<bool>("--ablation") { Description = "Add the ablation's variants: attentive pooling, statpool without SpecAugment" };
        var seeds = new Option<int[]>("--seeds")
        {
            Description = "Seeds per trained variant (comma-separated)",
            DefaultValueFactory = _ => [1, 2, 3],
            CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries))
                .Select(v => int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var seed) ? seed : Fail(r, $"--seeds: '{v}' is not a number")).ToArray(),
        };
        var training = new TrainingArguments();
        var command = new Command("models",
            "Compare models on feature stores: every variant trained with every seed, evaluated on the test partition; mean ± sd, macro-F1 gain over " +
            "the seed's model, seconds per epoch against the seed's");
        command.Options.Add(features);
        command.Options.Add(output);
        command.Options.Add(variants);
        command.Options.Add(ablation);
        command.Options.Add(seeds);
        training.AddTo(command);

        CliConsole.SetAction(command, async (parseResult, console, cancellationToken) =>
        {
            var stores = parseResult.GetRequiredValue(features).Select(d => d.FullName).ToArray();
            foreach (var store in stores) TrainCommand.OpenStore(store);
            if (stores.Select(ModelComparison.StoreLabel).Distinct().Count() != stores.Length)
                throw new CliException("two feature stores have the same folder name; their runs would share a folder");
            var names = parseResult.GetRequiredValue(variants).ToList();
            if (parseResult.GetValue(ablation)) names.AddRange(["attentive", "statpool-no-specaugment"]);
            List<ComparisonVariant> chosen;
            try
            {
                chosen = names.Distinct(StringComparer.OrdinalIgnoreCase).Select(ComparisonVariant.Parse)
                    .OrderBy(v => ComparisonVariant.All.ToList().IndexOf(v)).ToList();
            }
            catch (ArgumentException e)
            {
                throw new CliException(e.Message);
            }
            var seedList = parseResult.GetRequiredValue(seeds).Distinct().ToArray();
            if (seedList.Length == 0) throw new CliException("--seeds lists no seed");
            var recipe = training.Options(parseResult);
            var options = new ComparisonOptions(stores, chosen, seedList, recipe.Epochs, parseResult.GetRequiredValue(output).FullName, recipe);
            var runs = await Task.Factory.StartNew(() => ModelComparison.Run(options, console.Line, cancellationToken), cancellationToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            ModelComparison.Write(runs, options);
            console.Line("");
            console.Line(ModelComparison.Markdown(ModelComparison.Summarise(runs), options));
            console.Line($"wrote {Path.Combine(options.OutputDirectory, ModelComparison.ResultMarkdown)} and {ModelComparison.ResultJson}");
            return CliConsole.ExitOk;
        });
        return command;
    }

    private static int Fail(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return 0;
    }
}
