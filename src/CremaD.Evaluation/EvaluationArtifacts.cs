namespace CremaD.Evaluation;

/// <summary>What <see cref="EvaluationArtifacts.Write"/> computed and where it put it.</summary>
public sealed record EvaluationSummary(
    ClassificationReport Report,
    TestMetrics Metrics,
    ConfusionMatrix ConfusionMatrix,
    string ReportPath,
    string MetricsPath,
    string ConfusionMatrixPath);

/// <summary>Writes the test-set artefacts of a run: classification_report.json, test_metrics.json and confusion_matrix.png.</summary>
public static class EvaluationArtifacts
{
    /// <summary>
    /// Computes the report, headline metrics and confusion matrix of the predictions and writes them into
    /// <paramref name="directory"/> (created if missing). The JSON files are written before the plot, so a plotting
    /// failure (e.g. no fonts installed) never costs the numbers.
    /// </summary>
    public static EvaluationSummary Write(string directory, IReadOnlyList<int> yTrue, IReadOnlyList<int> yPred, IReadOnlyList<string> classNames)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var report = ClassificationReport.Compute(yTrue, yPred, classNames);
        var matrix = ConfusionMatrix.Compute(yTrue, yPred, classNames.Count);
        var metrics = TestMetrics.FromReport(report);

        Directory.CreateDirectory(directory);
        var reportPath = Path.Combine(directory, ArtifactNames.ClassificationReport);
        var metricsPath = Path.Combine(directory, ArtifactNames.TestMetrics);
        var confusionPath = Path.Combine(directory, ArtifactNames.ConfusionMatrix);
        report.Save(reportPath);
        metrics.Save(metricsPath);
        Plots.SaveConfusionMatrix(matrix, classNames, confusionPath);
        return new EvaluationSummary(report, metrics, matrix, reportPath, metricsPath, confusionPath);
    }
}
