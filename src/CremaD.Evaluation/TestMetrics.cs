using CremaD.Datasets;
using System.Text.Json;

namespace CremaD.Evaluation;

/// <summary>
/// Headline numbers of a test-set evaluation, as test_metrics.json:
/// <c>{"test_accuracy": ..., "macro_f1": ..., "per_class_recall": {"&lt;class&gt;": ...}, "samples": n}</c>.
/// </summary>
public sealed record TestMetrics(double Accuracy, double MacroF1, IReadOnlyDictionary<string, double> PerClassRecall, int Samples)
{
    public const string AccuracyKey = "test_accuracy", MacroF1Key = "macro_f1", PerClassRecallKey = "per_class_recall", SamplesKey = "samples";

    /// <summary>The headline numbers of a classification report; recalls keep the report's class order.</summary>
    public static TestMetrics FromReport(ClassificationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var recalls = new OrderedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var row in report.Classes) recalls.Add(row.Name, row.Recall);
        return new TestMetrics(report.Accuracy, report.MacroAvg.F1, recalls, report.Samples);
    }

    /// <summary>JSON laid out like <c>json.dump(metrics, f, indent=2)</c>; per-class recalls in the dictionary's order.</summary>
    public string ToJson() => PythonCompat.WriteIndented(writer =>
    {
        writer.WriteStartObject();
        writer.WritePropertyName(AccuracyKey);
        writer.WritePythonFloat(Accuracy);
        writer.WritePropertyName(MacroF1Key);
        writer.WritePythonFloat(MacroF1);
        writer.WriteStartObject(PerClassRecallKey);
        foreach (var (name, recall) in PerClassRecall)
        {
            writer.WritePropertyName(name);
            writer.WritePythonFloat(recall);
        }
        writer.WriteEndObject();
        writer.WriteNumber(SamplesKey, Samples);
        writer.WriteEndObject();
    });

    /// <exception cref="InvalidDataException">The text is not a test_metrics document; the message says what is wrong.</exception>
    public static TestMetrics FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Test metrics must be a JSON object.");
            var recallElement = Member(root, PerClassRecallKey);
            if (recallElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"\"{PerClassRecallKey}\" must be an object mapping class names to recalls.");
            }
            var recalls = new OrderedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var property in recallElement.EnumerateObject())
            {
                recalls[property.Name] = Number(property.Value, $"{PerClassRecallKey}.{property.Name}");
            }
            var samples = Member(root, SamplesKey);
            if (samples.ValueKind != JsonValueKind.Number || !samples.TryGetInt32(out var sampleCount) || sampleCount < 0)
            {
                throw new InvalidDataException($"\"{SamplesKey}\" must be a non-negative integer, not {samples.GetRawText()}.");
            }
            return new TestMetrics(Number(Member(root, AccuracyKey), AccuracyKey), Number(Member(root, MacroF1Key), MacroF1Key), recalls, sampleCount);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Test metrics are not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Reads <paramref name="path"/> with <see cref="FromJson"/>; errors name the file.</summary>
    public static TestMetrics Load(string path)
    {
        try
        {
            return FromJson(File.ReadAllText(path));
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/>.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    private static JsonElement Member(JsonElement element, string key) =>
        element.TryGetProperty(key, out var value) ? value : throw new InvalidDataException($"Test metrics have no \"{key}\".");

    private static double Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var value) && double.IsFinite(value)
            ? value
            : throw new InvalidDataException($"\"{name}\" must be a finite number, not {element.GetRawText()}.");
}
