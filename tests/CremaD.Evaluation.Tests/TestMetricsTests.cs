namespace CremaD.Evaluation.Tests;

public class TestMetricsTests
{
    [Fact]
    public void FromReport_takes_accuracy_macro_f1_recalls_and_sample_count()
    {
        var metrics = TestMetrics.FromReport(ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names));

        Assert.Equal(0.5, metrics.Accuracy);
        Assert.Equal(0.309523809523810, metrics.MacroF1, 14);   // (2/3 + 4/7) / 4
        Assert.Equal(TestData.Names, metrics.PerClassRecall.Keys);
        Assert.Equal(0.75, metrics.PerClassRecall["anger"]);
        Assert.Equal(2.0 / 3, metrics.PerClassRecall["disgust"]);
        Assert.Equal(0.0, metrics.PerClassRecall["fear"]);
        Assert.Equal(0.0, metrics.PerClassRecall["happy"]);
        Assert.Equal(10, metrics.Samples);
    }

    [Fact]
    public void Json_uses_snake_case_keys_in_order()
    {
        var metrics = new TestMetrics(0.625, 0.6, new Dictionary<string, double> { ["anger"] = 0.75, ["sad"] = 1.0 }, 8);

        Assert.Equal(
            """
            {
              "test_accuracy": 0.625,
              "macro_f1": 0.6,
              "per_class_recall": {
                "anger": 0.75,
                "sad": 1.0
              },
              "samples": 8
            }
            """.ReplaceLineEndings("\n"),
            metrics.ToJson());
    }

    [Fact]
    public void Json_round_trips()
    {
        var metrics = TestMetrics.FromReport(ClassificationReport.Compute(TestData.YTrue, TestData.YPred, TestData.Names));
        var parsed = TestMetrics.FromJson(metrics.ToJson());

        Assert.Equal(metrics.Accuracy, parsed.Accuracy);
        Assert.Equal(metrics.MacroF1, parsed.MacroF1);
        Assert.Equal(metrics.Samples, parsed.Samples);
        Assert.Equal(metrics.PerClassRecall, parsed.PerClassRecall);
        Assert.Equal(metrics.ToJson(), parsed.ToJson());
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"macro_f1": 0.5, "per_class_recall": {}, "samples": 3}""", "no \"test_accuracy\"")]
    [InlineData("""{"test_accuracy": 0.5, "macro_f1": 0.5, "per_class_recall": [], "samples": 3}""", "per_class_recall")]
    [InlineData("""{"test_accuracy": 0.5, "macro_f1": 0.5, "per_class_recall": {}, "samples": -3}""", "non-negative integer")]
    [InlineData("""{"test_accuracy": 0.5, "macro_f1": 0.5, "per_class_recall": {"a": null}, "samples": 3}""", "per_class_recall.a")]
    public void FromJson_rejects_malformed_documents_saying_why(string json, string expectedMessagePart)
    {
        var error = Assert.Throws<InvalidDataException>(() => TestMetrics.FromJson(json));
        Assert.Contains(expectedMessagePart, error.Message);
    }
}
