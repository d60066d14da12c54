using System.Globalization;
using System.Text;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;

namespace CremaD.RunsUi.Tests;

/// <summary>
/// A completed 3-fold cross-validation sweep as the runs API stores it: the sweep record, one completed run per fold
/// (a copy of <see cref="DemoRun"/>'s status with the fold's dataset reference and metrics) and each fold run's
/// <c>test_predictions.csv</c>, in the format the evaluation writes, from which the API merges the model card. The
/// folds' test speakers are CREMA-D actors 1001–1004, 1005–1008 and 1009–1012; each fold gets a different share right.
/// </summary>
internal sealed class DemoSweep
{
    public const int Folds = 3;

    private DemoSweep(SweepRecord record, IReadOnlyList<RunStatus> runs, IReadOnlyList<string> predictions)
    {
        Record = record;
        Runs = runs;
        Predictions = predictions;
    }

    public SweepRecord Record { get; }

    /// <summary>Fold 1's run first.</summary>
    public IReadOnlyList<RunStatus> Runs { get; }

    /// <summary>Each fold run's test_predictions.csv, fold 1's first.</summary>
    public IReadOnlyList<string> Predictions { get; }

    /// <summary>Test clips over all folds (the merged model card's).</summary>
    public int Clips => Folds * 4 * Emotions.Count * 2;

    public static DemoSweep Create(DemoRun run)
    {
        // Now, so sweeps created one after the other list newest first.
        var submitted = DateTimeOffset.UtcNow;
        var config = run.Status.Config with { Epochs = 4 };
        var runs = new List<RunStatus>();
        var predictions = new List<string>();
        for (var fold = 1; fold <= Folds; fold++)
        {
            // Two clips per class and actor; fold k gets the first (k+1) of every 6 clips wrong.
            var yTrue = new List<int>();
            var yPred = new List<int>();
            var csv = new StringBuilder("id,true,predicted\n");
            var clip = 0;
            for (var actor = 1001 + 4 * (fold - 1); actor < 1005 + 4 * (fold - 1); actor++)
            {
                for (var label = 0; label < Emotions.Count; label++)
                {
                    for (var take = 0; take < 2; take++, clip++)
                    {
                        var predicted = clip % 6 <= fold ? (label + 1) % Emotions.Count : label;
                        yTrue.Add(label);
                        yPred.Add(predicted);
                        csv.Append(CultureInfo.InvariantCulture, $"{actor}_{(take == 0 ? "DFA" : "IEO")}_{Emotions.Codes[label]}_XX,{Emotions.Names[label]},{Emotions.Names[predicted]}\n");
                    }
                }
            }
            var report = ClassificationReport.Compute(yTrue, yPred, Emotions.Names);
            var runId = Guid.NewGuid();
            runs.Add(run.Status with
            {
                RunId = runId,
                Name = $"cv demo (fold {fold} of {Folds})",
                Dataset = new DatasetRef("datasets/demo/", Fold: new FoldRef(fold, Folds, 42)),
                Config = config,
                Evaluation = new EvaluationStageStatus(report.Accuracy, report.MacroAvg.F1,
                    [.. report.Classes.Select(c => new ClassRecall(c.Name, c.Recall))], report.Samples),
                Artifacts = [new RunArtifact(PredictionsName, BlobLayout.ArtifactsPrefix(runId) + PredictionsName)],
            });
            predictions.Add(csv.ToString());
        }
        var record = new SweepRecord(Guid.NewGuid(), "cv demo", "datasets/demo/", Folds, 42, config, [.. runs.Select(r => r.RunId)], submitted, "default");
        return new DemoSweep(record, runs, predictions);
    }

    public const string PredictionsName = "test_predictions.csv";
}
