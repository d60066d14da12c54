namespace CremaD.Evaluation;

/// <summary>
/// File names of the artefacts a training/evaluation run leaves in its output directory.
/// They are the names the original PyTorch scripts used; every stage (trainer, evaluator, services) uses these constants.
/// </summary>
public static class ArtifactNames
{
    /// <summary>Per-epoch training history (JSON array of <see cref="EpochRecord"/>).</summary>
    public const string History = "history.json";

    /// <summary>Loss and accuracy curves, train vs validation.</summary>
    public const string TrainingCurves = "training_curves.png";

    /// <summary>Row-normalised confusion matrix heatmap of the test set.</summary>
    public const string ConfusionMatrix = "confusion_matrix.png";

    /// <summary>scikit-learn <c>classification_report(output_dict=True)</c> of the test set.</summary>
    public const string ClassificationReport = "classification_report.json";

    /// <summary>Headline test metrics (accuracy, macro F1, per-class recall, sample count).</summary>
    public const string TestMetrics = "test_metrics.json";

    /// <summary>The model card: metrics by speaker group, largest gap, data, recipe, intended use (<see cref="ModelCard"/>).</summary>
    public const string ModelCardJson = "model_card.json";

    /// <summary>The model card rendered for people.</summary>
    public const string ModelCardMarkdown = "model_card.md";

    /// <summary>Accuracy and macro-F1 by speaker group, as bars.</summary>
    public const string ModelCardPlot = "model_card.png";
}
