using CremaD.Datasets;
using System.Text.Json;

namespace CremaD.Evaluation;

/// <summary>Precision, recall, F1 and support of one class.</summary>
public sealed record ClassMetrics(string Name, double Precision, double Recall, double F1, int Support);

/// <summary>An averaged row of the report ("macro avg" or "weighted avg"); support is the total sample count.</summary>
public sealed record AverageMetrics(double Precision, double Recall, double F1, int Support);

/// <summary>
/// scikit-learn's <c>classification_report(y_true, y_pred, labels=range(k), target_names=names, output_dict=True)</c>
/// with the default <c>zero_division="warn"</c>, whose values are 0.0: precision of a class never predicted,
/// recall of a class with no samples, and F1 when both are zero.
/// </summary>
public sealed class ClassificationReport
{
    /// <summary>Keys of the per-class and average objects, in scikit-learn's order.</summary>
    public const string PrecisionKey = "precision", RecallKey = "recall", F1Key = "f1-score", SupportKey = "support";

    /// <summary>Top-level keys after the classes, in scikit-learn's order.</summary>
    public const string AccuracyKey = "accuracy", MacroAvgKey = "macro avg", WeightedAvgKey = "weighted avg";

    private ClassificationReport(IReadOnlyList<ClassMetrics> classes, double accuracy, AverageMetrics macroAvg, AverageMetrics weightedAvg)
    {
        Classes = classes;
        Accuracy = accuracy;
        MacroAvg = macroAvg;
        WeightedAvg = weightedAvg;
    }

    /// <summary>One row per class, in class-id order.</summary>
    public IReadOnlyList<ClassMetrics> Classes { get; }

    /// <summary>Correct predictions / samples.</summary>
    public double Accuracy { get; }

    /// <summary>Unweighted mean over all classes, including those with no samples or no predictions.</summary>
    public AverageMetrics MacroAvg { get; }

    /// <summary>Mean weighted by each class's support.</summary>
    public AverageMetrics WeightedAvg { get; }

    /// <summary>Total number of samples.</summary>
    public int Samples => MacroAvg.Support;

    public static ClassificationReport Compute(IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred, IReadOnlyList<string> classNames)
    {
        LabelValidation.CheckClassNames(classNames, nameof(classNames));
        return FromConfusionMatrix(ConfusionMatrix.Compute(yTrue, yPred, classNames.Count), classNames);
    }

    public static ClassificationReport FromConfusionMatrix(ConfusionMatrix matrix, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        LabelValidation.CheckClassNames(classNames, nameof(classNames));
        CheckReservedNames(classNames);
        if (classNames.Count != matrix.Classes)
        {
            throw new ArgumentException(
                $"There are {classNames.Count} class names for a {matrix.Classes}-class confusion matrix.", nameof(classNames));
        }
        var total = matrix.Total;
        if (total == 0) throw new ArgumentException("The confusion matrix is empty: metrics are undefined without samples.", nameof(matrix));

        var k = matrix.Classes;
        var precision = new double[k];
        var recall = new double[k];
        var f1 = new double[k];
        var support = new double[k];
        var classes = new ClassMetrics[k];
        for (var c = 0; c < k; c++)
        {
            var truePositives = matrix[c, c];
            var predicted = matrix.Predicted(c);
            var actual = matrix.Support(c);
            precision[c] = Divide(truePositives, predicted);
            recall[c] = Divide(truePositives, actual);
            // Evaluated as scikit-learn (<= 1.2) does, (1 + beta^2) * p * r / (beta^2 * p + r) with beta = 1, so the
            // report matches its output bit for bit (2tp / (2tp + fp + fn) is equal in exact arithmetic only).
            var precisionPlusRecall = precision[c] + recall[c];
            f1[c] = precisionPlusRecall == 0 ? 0.0 : 2.0 * precision[c] * recall[c] / precisionPlusRecall;
            support[c] = actual;
            classes[c] = new ClassMetrics(classNames[c], precision[c], recall[c], f1[c], checked((int)actual));
        }

        var samples = checked((int)total);
        var macro = new AverageMetrics(Mean(precision), Mean(recall), Mean(f1), samples);
        var weighted = new AverageMetrics(
            WeightedMean(precision, support), WeightedMean(recall, support), WeightedMean(f1, support), samples);
        return new ClassificationReport(classes, Divide(matrix.Correct, total), macro, weighted);
    }

    /// <summary>The report as scikit-learn's output_dict written by <c>json.dump(report, f, indent=2)</c>.</summary>
    public string ToJson() => PythonCompat.WriteIndented(writer =>
    {
        writer.WriteStartObject();
        foreach (var row in Classes)
        {
            WriteRow(writer, row.Name, row.Precision, row.Recall, row.F1, row.Support);
        }
        writer.WritePropertyName(AccuracyKey);
        writer.WritePythonFloat(Accuracy);
        WriteRow(writer, MacroAvgKey, MacroAvg.Precision, MacroAvg.Recall, MacroAvg.F1, MacroAvg.Support);
        WriteRow(writer, WeightedAvgKey, WeightedAvg.Precision, WeightedAvg.Recall, WeightedAvg.F1, WeightedAvg.Support);
        writer.WriteEndObject();
    });

    /// <summary>
    /// Reads a report in scikit-learn's output_dict layout, as written by <see cref="ToJson"/> or by Python
    /// (which, since scikit-learn 1.3, writes support as a float such as 12.0; both are accepted).
    /// </summary>
    /// <exception cref="InvalidDataException">The text is not such a report; the message says what is wrong.</exception>
    public static ClassificationReport FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The classification report is not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("The classification report must be a JSON object.");
            var classes = new List<ClassMetrics>();
            double? accuracy = null;
            AverageMetrics? macro = null, weighted = null;
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    case AccuracyKey:
                        accuracy = ReadNumber(property.Value, AccuracyKey);
                        break;
                    case MacroAvgKey:
                        macro = ReadAverage(property.Value, MacroAvgKey);
                        break;
                    case WeightedAvgKey:
                        weighted = ReadAverage(property.Value, WeightedAvgKey);
                        break;
                    default:
                        var row = ReadAverage(property.Value, property.Name);
                        classes.Add(new ClassMetrics(property.Name, row.Precision, row.Recall, row.F1, row.Support));
                        break;
                }
            }
            if (classes.Count == 0) throw new InvalidDataException("The classification report has no class entries.");
            return new ClassificationReport(
                classes,
                accuracy ?? throw new InvalidDataException($"The classification report has no \"{AccuracyKey}\" entry."),
                macro ?? throw new InvalidDataException($"The classification report has no \"{MacroAvgKey}\" entry."),
                weighted ?? throw new InvalidDataException($"The classification report has no \"{WeightedAvgKey}\" entry."));
        }
    }

    /// <summary>Reads <paramref name="path"/> with <see cref="FromJson"/>; errors name the file.</summary>
    public static ClassificationReport Load(string path)
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

    private static void WriteRow(Utf8JsonWriter writer, string name, double precision, double recall, double f1, int support)
    {
        writer.WriteStartObject(name);
        writer.WritePropertyName(PrecisionKey);
        writer.WritePythonFloat(precision);
        writer.WritePropertyName(RecallKey);
        writer.WritePythonFloat(recall);
        writer.WritePropertyName(F1Key);
        writer.WritePythonFloat(f1);
        writer.WriteNumber(SupportKey, support);
        writer.WriteEndObject();
    }

    private static AverageMetrics ReadAverage(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Entry \"{name}\" must be an object with {PrecisionKey}, {RecallKey}, {F1Key} and {SupportKey}.");
        }
        var support = ReadNumber(Member(element, SupportKey, name), $"{name}.{SupportKey}");
        if (support < 0 || support != Math.Floor(support) || support > int.MaxValue)
        {
            throw new InvalidDataException($"\"{name}.{SupportKey}\" must be a non-negative whole number, not {support}.");
        }
        return new AverageMetrics(
            ReadNumber(Member(element, PrecisionKey, name), $"{name}.{PrecisionKey}"),
            ReadNumber(Member(element, RecallKey, name), $"{name}.{RecallKey}"),
            ReadNumber(Member(element, F1Key, name), $"{name}.{F1Key}"),
            (int)support);
    }

    private static JsonElement Member(JsonElement element, string key, string owner) =>
        element.TryGetProperty(key, out var value) ? value : throw new InvalidDataException($"Entry \"{owner}\" has no \"{key}\".");

    private static double ReadNumber(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var value) && double.IsFinite(value)
            ? value
            : throw new InvalidDataException($"\"{name}\" must be a finite number, not {element.ValueKind} {element.GetRawText()}.");

    private static void CheckReservedNames(IReadOnlyList<string> classNames)
    {
        foreach (var name in classNames)
        {
            if (name is AccuracyKey or MacroAvgKey or WeightedAvgKey)
            {
                throw new ArgumentException($"'{name}' cannot be a class name: it is a summary key of the report.", nameof(classNames));
            }
        }
    }

    /// <summary>Division with scikit-learn's zero_division result of 0.0 when the denominator is zero.</summary>
    private static double Divide(long numerator, long denominator) => denominator == 0 ? 0.0 : (double)numerator / denominator;

    private static double Mean(double[] values) => PythonCompat.NumpySum(values) / values.Length;

    /// <summary><c>np.average(values, weights=weights)</c>: sum(values * weights) / sum(weights).</summary>
    private static double WeightedMean(double[] values, double[] weights)
    {
        var products = new double[values.Length];
        for (var i = 0; i < values.Length; i++) products[i] = values[i] * weights[i];
        return PythonCompat.NumpySum(products) / PythonCompat.NumpySum(weights);
    }
}
