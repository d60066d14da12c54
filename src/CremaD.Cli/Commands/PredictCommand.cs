using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CremaD.Learning;
using CremaD.Pipeline;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad predict FILE.wav [FILE...] --model-dir DIR [--json]</c>.</summary>
public static class PredictCommand
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files") { Description = "WAV files to classify", Arity = ArgumentArity.OneOrMore };
        var model = EvaluateCommand.ModelDir();
        var json = new Option<bool>("--json") { Description = "Print JSON (one object per file with its class probabilities)" };
        var device = new Option<DeviceChoice>("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => DeviceChoice.Auto };
        var command = new Command("predict", "Classify the emotion of WAV files with a trained model");
        command.Arguments.Add(files);
        command.Options.Add(model);
        command.Options.Add(json);
        command.Options.Add(device);

        CliConsole.SetAction(command, (parseResult, console, cancellationToken) =>
        {
            var paths = parseResult.GetRequiredValue(files).Select(f => f.FullName).ToArray();
            var predictions = PredictionStage.PredictFiles(parseResult.GetRequiredValue(model).FullName, paths,
                parseResult.GetValue(device), cancellationToken: cancellationToken);
            if (parseResult.GetValue(json))
            {
                console.Line(JsonSerializer.Serialize(predictions.Select(p => new
                {
                    file = p.File,
                    emotion = p.Emotion,
                    emotion_name = p.EmotionName,
                    probabilities = p.Probabilities,
                    duration_seconds = p.DurationSeconds,
                    warnings = p.Warnings.Count > 0 ? p.Warnings : null,
                    error = p.Error,
                }), Json));
            }
            else
            {
                var inv = CultureInfo.InvariantCulture;
                foreach (var p in predictions)
                {
                    if (!p.Succeeded)
                    {
                        console.Error.WriteLine($"error: {p.Error}");
                        continue;
                    }
                    var top = p.Probabilities!.OrderByDescending(kv => kv.Value).Take(3)
                        .Select(kv => string.Create(inv, $"{kv.Key} {kv.Value:P1}"));
                    console.Line($"{p.File}: {p.Emotion} ({p.EmotionName})  [{string.Join(", ", top)}]");
                    foreach (var warning in p.Warnings) console.Warning($"{p.File}: {warning}");
                }
            }
            // Every file is attempted; the exit code says whether any could not be classified.
            return Task.FromResult(predictions.All(p => p.Succeeded) ? CliConsole.ExitOk : CliConsole.ExitBadInput);
        });
        return command;
    }
}
