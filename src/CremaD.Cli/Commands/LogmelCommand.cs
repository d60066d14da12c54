using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using CremaD.Audio;
using CremaD.Datasets;

namespace CremaD.Cli.Commands;

/// <summary><c>cremad logmel IN.wav [--out OUT] [--format f32|csv]</c>: one clip's log-mel features.</summary>
public static class LogmelCommand
{
    public static Command Create()
    {
        var input = new Argument<FileInfo>("input") { Description = "A WAV file (any rate, channels, PCM 8/16/24/32-bit or float)" };
        var output = new Option<FileInfo?>("--out", "-o")
        {
            Description = "Where to write the features (default: <input>.logmel.f32 or .csv beside the input)",
        };
        var format = new Option<string>("--format")
        {
            Description = "f32: little-endian float32, row-major [frames x 80]; csv: one line per frame, 80 values",
            DefaultValueFactory = _ => "f32",
        };
        format.AcceptOnlyFromAmong("f32", "csv");

        var command = new Command("logmel", "Compute one clip's 80-band log-mel features (the training recipe, not normalised)")
        {
            input, output, format,
        };
        CliConsole.SetAction(command, (parseResult, console, _) =>
        {
            var inputFile = parseResult.GetRequiredValue(input);
            var chosenFormat = parseResult.GetRequiredValue(format);
            var outputPath = parseResult.GetValue(output)?.FullName
                ?? Path.ChangeExtension(inputFile.FullName, null) + ".logmel." + chosenFormat;
            if (!inputFile.Exists) throw new CliException($"{inputFile.FullName}: file not found");

            var features = new ClipFeatureExtractor().FromFile(inputFile.FullName);
            var data = features.Data.AsSpan(0, features.Frames * FeatureRecipe.MelBands);
            if (Path.GetDirectoryName(outputPath) is { Length: > 0 } folder) Directory.CreateDirectory(folder);
            if (chosenFormat == "csv") AtomicFile.WriteAllText(outputPath, ToCsv(data));
            else AtomicFile.WriteAllBytes(outputPath, ToLittleEndianBytes(data));

            console.Line($"{inputFile.Name}: {features.Frames} frames x {FeatureRecipe.MelBands} mel bands, " +
                $"{features.DurationSeconds.ToString("F3", CultureInfo.InvariantCulture)} s at {features.SourceSampleRate} Hz -> {outputPath}");
            foreach (var warning in features.Warnings) console.Warning($"{inputFile.Name}: {warning}");
            return Task.FromResult(CliConsole.ExitOk);
        });
        return command;
    }

    private static string ToCsv(ReadOnlySpan<float> data)
    {
        var text = new StringBuilder(data.Length * 10);
        for (var frame = 0; frame < data.Length / FeatureRecipe.MelBands; frame++)
        {
            var row = data.Slice(frame * FeatureRecipe.MelBands, FeatureRecipe.MelBands);
            for (var band = 0; band < row.Length; band++)
            {
                if (band > 0) text.Append(',');
                // Shortest text that reads back to the same float.
                text.Append(row[band].ToString("R", CultureInfo.InvariantCulture));
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private static byte[] ToLittleEndianBytes(ReadOnlySpan<float> data)
    {
        var bytes = MemoryMarshal.AsBytes(data).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            var ints = MemoryMarshal.Cast<byte, int>(bytes.AsSpan());
            System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(ints, ints);
        }
        return bytes;
    }
}
