namespace CremaD.Pipeline;

/// <summary>
/// What a run's output directory holds. The model files (best_model, model.json, last_checkpoint) and the
/// evaluation artefacts keep the names their own libraries give them; this adds the run-level ones.
/// </summary>
public static class RunFiles
{
    /// <summary>The run manifest: config, dataset fingerprint, versions, durations, rejected clips, metrics.</summary>
    public const string Manifest = "run.json";

    /// <summary>The run's feature store, unless the run was pointed at a shared one.</summary>
    public const string FeaturesFolder = "features";

    /// <summary>Per-clip test-set predictions (id, true label, predicted label, probabilities), CSV.</summary>
    public const string Predictions = "test_predictions.csv";
}
