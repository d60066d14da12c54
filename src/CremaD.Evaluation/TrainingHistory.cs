using CremaD.Datasets;
using System.Text.Json;

namespace CremaD.Evaluation;

/// <summary>
/// history.json: a JSON array with one object per epoch,
/// <c>{"epoch": 1, "train_loss": ..., "train_acc": ..., "val_loss": ..., "val_acc": ..., "lr": ..., "seconds": ...}</c>,
/// laid out like Python's <c>json.dump(history, f, indent=2)</c>.
/// </summary>
public static class TrainingHistory
{
    public const string EpochKey = "epoch", TrainLossKey = "train_loss", TrainAccuracyKey = "train_acc",
        ValidationLossKey = "val_loss", ValidationAccuracyKey = "val_acc", LearningRateKey = "lr", SecondsKey = "seconds";

    /// <summary>
    /// Writes the history, replacing <paramref name="path"/> atomically so a run stopped mid-write never leaves a
    /// truncated file. A diverged run's NaN or infinite loss is written as the string "NaN", "Infinity" or
    /// "-Infinity" (Python would write a bare NaN, which is not JSON).
    /// </summary>
    public static void Write(string path, IReadOnlyList<EpochRecord> history)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(history);
        AtomicFile.WriteAllText(path, ToJson(history));
    }

    public static string ToJson(IReadOnlyList<EpochRecord> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        return PythonCompat.WriteIndented(writer =>
        {
            writer.WriteStartArray();
            foreach (var epoch in history)
            {
                ArgumentNullException.ThrowIfNull(epoch, nameof(history));
                writer.WriteStartObject();
                writer.WriteNumber(EpochKey, epoch.Epoch);
                WriteValue(writer, TrainLossKey, epoch.TrainLoss);
                WriteValue(writer, TrainAccuracyKey, epoch.TrainAccuracy);
                WriteValue(writer, ValidationLossKey, epoch.ValidationLoss);
                WriteValue(writer, ValidationAccuracyKey, epoch.ValidationAccuracy);
                WriteValue(writer, LearningRateKey, epoch.LearningRate);
                WriteValue(writer, SecondsKey, epoch.Seconds);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        });
    }

    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a history; the message names the file and the fault.</exception>
    public static IReadOnlyList<EpochRecord> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            return FromJson(File.ReadAllText(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <exception cref="InvalidDataException">The text is not a history; the message says what is wrong.</exception>
    public static IReadOnlyList<EpochRecord> FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array) throw new InvalidDataException("A training history must be a JSON array of epochs.");
            var history = new List<EpochRecord>(root.GetArrayLength());
            var index = 0;
            foreach (var element in root.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"Entry {index} is not an object.");
                var epochElement = Member(element, EpochKey, index);
                if (epochElement.ValueKind != JsonValueKind.Number || !epochElement.TryGetInt32(out var epoch))
                {
                    throw new InvalidDataException($"Entry {index}: \"{EpochKey}\" must be an integer, not {epochElement.GetRawText()}.");
                }
                history.Add(new EpochRecord(
                    epoch,
                    Value(element, TrainLossKey, index),
                    Value(element, TrainAccuracyKey, index),
                    Value(element, ValidationLossKey, index),
                    Value(element, ValidationAccuracyKey, index),
                    Value(element, LearningRateKey, index),
                    Value(element, SecondsKey, index)));
                index++;
            }
            return history;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Not valid JSON: {e.Message}", e);
        }
    }

    private static void WriteValue(Utf8JsonWriter writer, string key, double value)
    {
        writer.WritePropertyName(key);
        if (double.IsFinite(value)) writer.WritePythonFloat(value);
        else writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }

    private static JsonElement Member(JsonElement element, string key, int index) =>
        element.TryGetProperty(key, out var value) ? value : throw new InvalidDataException($"Entry {index} has no \"{key}\".");

    private static double Value(JsonElement element, string key, int index)
    {
        var value = Member(element, key, index);
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number)) return number;
        if (value.ValueKind == JsonValueKind.String)
        {
            switch (value.GetString())
            {
                case "NaN": return double.NaN;
                case "Infinity": return double.PositiveInfinity;
                case "-Infinity": return double.NegativeInfinity;
            }
        }
        throw new InvalidDataException($"Entry {index}: \"{key}\" must be a number, not {value.GetRawText()}.");
    }
}
