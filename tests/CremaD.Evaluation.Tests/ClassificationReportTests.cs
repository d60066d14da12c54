using System.Text.Json;

namespace CremaD.Evaluation.Tests;

public class ClassificationReportTests
{
    // Metric values below are worked out by hand from the matrix documented on TestData.
    private const int Digits = 14;

    [Fact]
    public void Per_class_rows_match_the_hand_computation()
    {
        var report = ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names);

        Assert.Equal(TestData.Names, report.Classes.Select(c => c.Name));

        // anger: tp 3 of 5 predicted, 4 true -> p 0.6, r 0.75, f1 2*0.6*0.75/1.35 = 2/3
        AssertRow(report.Classes[0], 0.6, 0.75, 0.666666666666667, 4);
        // disgust: tp 2 of 4 predicted, 3 true -> p 0.5, r 2/3, f1 (2/3)/(7/6) = 4/7
        AssertRow(report.Classes[1], 0.5, 0.666666666666667, 0.571428571428571, 3);
        // fear: never predicted -> precision 0 (zero_division), recall 0/3, f1 0
        AssertRow(report.Classes[2], 0.0, 0.0, 0.0, 3);
        // happy: predicted once wrongly, never true -> precision 0/1, recall 0 (zero_division), f1 0
        AssertRow(report.Classes[3], 0.0, 0.0, 0.0, 0);
    }

    [Fact]
    public void Accuracy_and_averages_match_the_hand_computation()
    {
        var report = ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names);

        Assert.Equal(0.5, report.Accuracy);                 // 5 of 10
        Assert.Equal(10, report.Samples);
        // macro: unweighted over all four classes, the empty ones included
        Assert.Equal(0.275, report.MacroAvg.Precision, Digits);            // (0.6 + 0.5) / 4
        Assert.Equal(0.354166666666667, report.MacroAvg.Recall, Digits);   // (0.75 + 2/3) / 4 = 17/48
        Assert.Equal(0.309523809523810, report.MacroAvg.F1, Digits);       // (2/3 + 4/7) / 4 = 13/42
        Assert.Equal(10, report.MacroAvg.Support);
        // weighted by support 4, 3, 3, 0
        Assert.Equal(0.39, report.WeightedAvg.Precision, Digits);          // (0.6*4 + 0.5*3) / 10
        Assert.Equal(0.5, report.WeightedAvg.Recall, Digits);              // (3 + 2) / 10, equals accuracy
        Assert.Equal(0.438095238095238, report.WeightedAvg.F1, Digits);    // (4*2/3 + 3*4/7) / 10 = 46/105
        Assert.Equal(10, report.WeightedAvg.Support);
    }

    [Fact]
    public void Perfect_predictions_score_one_everywhere()
    {
        int[] labels = [0, 1, 2, 2, 1, 0];
        var report = ClassificationReport.Compute(labels, labels, ["x", "y", "z"]);
        Assert.All(report.Classes, c => AssertRow(c, 1.0, 1.0, 1.0, 2));
        Assert.Equal(1.0, report.Accuracy);
        Assert.Equal(1.0, report.MacroAvg.F1);
        Assert.Equal(1.0, report.WeightedAvg.F1);
    }

    [Fact]
    public void Json_has_scikit_learns_keys_in_scikit_learns_order()
    {
        var json = ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names).ToJson();
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;

        Assert.Equal(
            ["anger", "disgust", "fear", "happy", "accuracy", "macro avg", "weighted avg"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Number, root.GetProperty("accuracy").ValueKind);
        foreach (var key in new[] { "anger", "disgust", "fear", "happy", "macro avg", "weighted avg" })
        {
            var row = root.GetProperty(key);
            Assert.Equal(["precision", "recall", "f1-score", "support"], row.EnumerateObject().Select(p => p.Name));
            // support is an integer token ("4"), the scores are floats ("0.0", never "0")
            Assert.True(row.GetProperty("support").TryGetInt32(out _));
            Assert.DoesNotContain('.', row.GetProperty("support").GetRawText());
            Assert.Contains('.', row.GetProperty("precision").GetRawText());
        }
        Assert.StartsWith("{\n  \"anger\": {\n    \"precision\": 0.6,\n    \"recall\": 0.75,\n", json);
        Assert.Contains("\n  \"accuracy\": 0.5,\n", json);
        Assert.Contains("\"happy\": {\n    \"precision\": 0.0,\n    \"recall\": 0.0,\n    \"f1-score\": 0.0,\n    \"support\": 0\n  }", json);
        Assert.EndsWith("\"support\": 10\n  }\n}", json);
    }

    [Fact]
    public void Json_round_trips_exactly()
    {
        var report = ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names);
        var json = report.ToJson();

        var parsed = ClassificationReport.FromJson(json);

        Assert.Equal(report.Classes, parsed.Classes);
        Assert.Equal(report.Accuracy, parsed.Accuracy);
        Assert.Equal(report.MacroAvg, parsed.MacroAvg);
        Assert.Equal(report.WeightedAvg, parsed.WeightedAvg);
        Assert.Equal(json, parsed.ToJson());
    }

    [Fact]
    public void FromJson_accepts_support_written_as_a_float_by_newer_scikit_learn()
    {
        const string json = """
            {"a": {"precision": 1.0, "recall": 0.5, "f1-score": 0.6666666666666666, "support": 2.0},
             "accuracy": 0.5,
             "macro avg": {"precision": 1.0, "recall": 0.5, "f1-score": 0.6666666666666666, "support": 2.0},
             "weighted avg": {"precision": 1.0, "recall": 0.5, "f1-score": 0.6666666666666666, "support": 2.0}}
            """;
        var report = ClassificationReport.FromJson(json);
        Assert.Equal(2, report.Classes[0].Support);
        Assert.Equal(2, report.WeightedAvg.Support);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("""{"accuracy": 1.0}""", "no class entries")]
    [InlineData("""{"a": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 1}, "accuracy": 1.0, "macro avg": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 1}}""", "no \"weighted avg\"")]
    [InlineData("""{"a": {"precision": 1.0, "recall": 1.0, "support": 1}}""", "\"a\" has no \"f1-score\"")]
    [InlineData("""{"a": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 1.5}}""", "whole number")]
    [InlineData("""{"a": {"precision": "high", "recall": 1.0, "f1-score": 1.0, "support": 1}}""", "a.precision")]
    public void FromJson_rejects_malformed_reports_saying_why(string json, string expectedMessagePart)
    {
        var error = Assert.Throws<InvalidDataException>(() => ClassificationReport.FromJson(json));
        Assert.Contains(expectedMessagePart, error.Message);
    }

    [Fact]
    public void Load_names_the_file_in_errors_and_Save_round_trips()
    {
        var directory = TestData.NewTempDirectory();
        try
        {
            var path = Path.Combine(directory, ArtifactNames.ClassificationReport);
            var report = ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names);
            report.Save(path);
            Assert.Equal(report.ToJson(), File.ReadAllText(path));
            Assert.Equal(report.Classes, ClassificationReport.Load(path).Classes);

            File.WriteAllText(path, "{");
            var error = Assert.Throws<InvalidDataException>(() => ClassificationReport.Load(path));
            Assert.StartsWith(path + ":", error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Class_names_must_cover_every_label()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => ClassificationReport.Compute(TestData.YTrue, TestData.YPred, ["anger", "disgust", "fear"]));
        Assert.Contains("yPred[4] = 3 is outside the class range 0..2", error.Message);
    }

    [Fact]
    public void Class_names_must_be_unique_non_blank_and_not_summary_keys()
    {
        Assert.Contains("more than once", Assert.Throws<ArgumentException>(
            () => ClassificationReport.Compute([0, 1], [0, 1], ["a", "a"])).Message);
        Assert.Contains("blank", Assert.Throws<ArgumentException>(
            () => ClassificationReport.Compute([0, 1], [0, 1], ["a", " "])).Message);
        Assert.Contains("summary key", Assert.Throws<ArgumentException>(
            () => ClassificationReport.Compute([0, 1], [0, 1], ["a", "macro avg"])).Message);
    }

    [Fact]
    public void FromConfusionMatrix_equals_Compute()
    {
        var cm = ConfusionMatrix.Compute(TestData.YTrue, TestData.YPred, 4);
        Assert.Equal(
            ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names).ToJson(),
            ClassificationReport.FromConfusionMatrix(cm, TestData.Names).ToJson());
        Assert.Throws<ArgumentException>(() => ClassificationReport.FromConfusionMatrix(cm, ["a", "b"]));
        Assert.Throws<ArgumentException>(() => ClassificationReport.FromConfusionMatrix(ConfusionMatrix.FromCounts(new long[2, 2]), ["a", "b"]));
    }

    private static void AssertRow(ClassMetrics row, double precision, double recall, double f1, int support)
    {
        Assert.Equal(precision, row.Precision, Digits);
        Assert.Equal(recall, row.Recall, Digits);
        Assert.Equal(f1, row.F1, Digits);
        Assert.Equal(support, row.Support);
    }
}
