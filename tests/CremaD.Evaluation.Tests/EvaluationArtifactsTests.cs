namespace CremaD.Evaluation.Tests;

public class EvaluationArtifactsTests
{
    [Fact]
    public void Write_leaves_report_metrics_and_plot_under_their_standard_names()
    {
        var directory = Path.Combine(TestData.NewTempDirectory(), "run");
        try
        {
            var summary = EvaluationArtifacts.Write(directory, TestData.YTrue, TestData.YPred, TestData.Names);

            Assert.Equal(
                [ArtifactNames.ClassificationReport, ArtifactNames.ConfusionMatrix, ArtifactNames.TestMetrics],
                Directory.GetFiles(directory).Select(Path.GetFileName).Order());
            Assert.Equal(Path.Combine(directory, "classification_report.json"), summary.ReportPath);
            Assert.Equal(Path.Combine(directory, "test_metrics.json"), summary.MetricsPath);
            Assert.Equal(Path.Combine(directory, "confusion_matrix.png"), summary.ConfusionMatrixPath);

            Assert.Equal(summary.Report.ToJson(), File.ReadAllText(summary.ReportPath));
            Assert.Equal(summary.Metrics.ToJson(), File.ReadAllText(summary.MetricsPath));
            Assert.Equal(0.5, summary.Report.Accuracy);
            Assert.Equal(0.5, TestMetrics.Load(summary.MetricsPath).Accuracy);
            Assert.Equal(10, summary.Metrics.Samples);
            Assert.Equal(3, summary.ConfusionMatrix[0, 0]);
            Assert.Equal((800, 700), PlotsTests.ReadPngSize(summary.ConfusionMatrixPath));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(directory)!, recursive: true);
        }
    }

    [Fact]
    public void Bad_predictions_write_nothing()
    {
        var directory = Path.Combine(TestData.NewTempDirectory(), "run");
        try
        {
            Assert.Throws<ArgumentException>(() => EvaluationArtifacts.Write(directory, [0, 1], [0], ["a", "b"]));
            Assert.False(Directory.Exists(directory));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(directory)!, recursive: true);
        }
    }

    [Fact]
    public void Artifact_names_are_the_original_scripts_file_names()
    {
        Assert.Equal("history.json", ArtifactNames.History);
        Assert.Equal("training_curves.png", ArtifactNames.TrainingCurves);
        Assert.Equal("confusion_matrix.png", ArtifactNames.ConfusionMatrix);
        Assert.Equal("classification_report.json", ArtifactNames.ClassificationReport);
        Assert.Equal("test_metrics.json", ArtifactNames.TestMetrics);
    }
}
