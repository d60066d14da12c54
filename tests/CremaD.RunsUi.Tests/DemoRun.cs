using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Evaluation;
using CremaD.Runs;

namespace CremaD.RunsUi.Tests;

/// <summary>
/// A completed run as the runs API reports it, with its artefact files written by the real evaluation code
/// (history.json, training_curves.png, confusion_matrix.png, classification_report.json, test_metrics.json) into
/// <see cref="ArtifactsDirectory"/>. Timestamps lie in the recent past, in the order the stages ran.
/// </summary>
internal sealed class DemoRun
{
    public const int Epochs = 12;

    /// <summary>The trainer the demo run names.</summary>
    public const string Worker = "trainer (aca-replica-7f9c, pid 1)";

    private DemoRun(RunStatus status, string artifactsDirectory)
    {
        Status = status;
        ArtifactsDirectory = artifactsDirectory;
    }

    public RunStatus Status { get; }

    public Guid RunId => Status.RunId;

    public string ArtifactsDirectory { get; }

    public DateTimeOffset SubmittedAt => Status.Timestamps.SubmittedAt;

    public static DemoRun Create(string artifactsDirectory)
    {
        var runId = Guid.NewGuid();
        var submitted = DateTimeOffset.UtcNow.AddMinutes(-3).AddMilliseconds(-DateTimeOffset.UtcNow.Millisecond);
        var featuresStarted = submitted.AddSeconds(1.2);
        var featuresReady = submitted.AddSeconds(9.4);
        var trainingStarted = featuresReady.AddSeconds(0.8);

        // Curves shaped like a real small run: losses falling, validation flattening, a best epoch before the end.
        var random = new Random(7);
        var history = new List<EpochRecord>();
        for (var epoch = 1; epoch <= Epochs; epoch++)
        {
            var progress = 1 - Math.Exp(-epoch / 4.0);
            history.Add(new EpochRecord(epoch,
                TrainLoss: 1.79 - 0.75 * progress + random.NextDouble() * 0.03,
                TrainAccuracy: 0.19 + 0.48 * progress + random.NextDouble() * 0.02,
                ValidationLoss: 1.78 - 0.48 * progress + 0.02 * Math.Max(0, epoch - 8) + random.NextDouble() * 0.04,
                ValidationAccuracy: Math.Round(0.2 + 0.36 * progress - 0.01 * Math.Max(0, epoch - 9) + random.NextDouble() * 0.02, 4),
                LearningRate: 3e-4 * 0.5 * (1 + Math.Cos(Math.PI * (epoch - 1) / Epochs)),
                Seconds: 7.5 + random.NextDouble()));
        }
        var best = history.MaxBy(e => e.ValidationAccuracy)!;
        var trainingCompleted = trainingStarted.AddSeconds(history.Sum(e => e.Seconds) + 1.5);
        var evaluationCompleted = trainingCompleted.AddSeconds(4.1);
        var finished = evaluationCompleted.AddSeconds(0.3);

        Directory.CreateDirectory(artifactsDirectory);
        TrainingHistory.Write(Path.Combine(artifactsDirectory, ArtifactNames.History), history);
        Plots.SaveTrainingCurves(history, Path.Combine(artifactsDirectory, ArtifactNames.TrainingCurves), best.Epoch);
        // 20 test clips per class, mostly right, with the confusions CREMA-D models typically make.
        var yTrue = new List<int>();
        var yPred = new List<int>();
        for (var label = 0; label < Emotions.Count; label++)
        {
            for (var i = 0; i < 20; i++)
            {
                yTrue.Add(label);
                yPred.Add(i < 12 + label % 3 * 2 ? label : (label + 1 + i % 2) % Emotions.Count);
            }
        }
        var summary = EvaluationArtifacts.Write(artifactsDirectory, yTrue, yPred, Emotions.Names);
        // The same clips spoken by twelve CREMA-D actors (1001-1012), ten each, for the model card.
        var speakers = yTrue.Select((label, i) => new SpeakerPrediction(label, yPred[i], (1001 + i % 12).ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        ModelCardArtifacts.Write(artifactsDirectory, ModelCard.Build(new ModelCardSubject("BiGRU 2×256 over 80 log-mel bands, 6 classes", null, "0f3a9c1e", "test"),
            speakers, Emotions.Names, ActorDemographics.CremaD, ActorDemographics.BuiltInSource));

        var artifactsPrefix = BlobLayout.ArtifactsPrefix(runId);
        RunArtifact Artifact(string name) => new(name, artifactsPrefix + name);
        var status = new RunStatus(
            runId, "demo, 12 epochs", RunStage.Completed, 1.0,
            new DatasetRef("datasets/demo/"), RunConfig.Default with { Epochs = Epochs, Patience = 6 },
            new RunTimestamps(submitted, featuresStarted, featuresReady, trainingStarted, trainingCompleted, evaluationCompleted, finished, finished),
            new FeatureStageStatus("features/0f3a9c1e/v1/", 1, [0], 131, 129, 2, 287.4, true, false),
            new TrainingStageStatus("cpu", Epochs,
                [.. history.Select(e => new EpochProgress(e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate,
                    e.Seconds, history.Take(e.Epoch).MaxBy(h => h.ValidationAccuracy)!.Epoch, history.Take(e.Epoch).Max(h => h.ValidationAccuracy)))],
                best.Epoch, best.ValidationAccuracy, true, false, Worker),
            new EvaluationStageStatus(summary.Metrics.Accuracy, summary.Metrics.MacroF1,
                [.. Emotions.Names.Select(name => new ClassRecall(name, summary.Metrics.PerClassRecall[name]))], summary.Metrics.Samples),
            [
                new ClipRejection("datasets/demo/AudioWAV/1003_IEO_SAD_LO.wav", "not a RIFF/WAVE file (starts with 'ID3')", RejectionStage.Audio),
                new ClipRejection("datasets/demo/AudioWAV/notes.wav", "file name does not follow <actor>_<sentence>_<emotion>_<level>.wav", RejectionStage.Dataset),
            ],
            [],
            [
                new RunArtifact(ArtifactNames.History, BlobLayout.RunPrefix(runId) + "model/" + ArtifactNames.History),
                Artifact(ArtifactNames.TrainingCurves), Artifact(ArtifactNames.ClassificationReport), Artifact(ArtifactNames.TestMetrics),
                Artifact(ArtifactNames.ConfusionMatrix), Artifact(ArtifactNames.ModelCardJson), Artifact(ArtifactNames.ModelCardMarkdown),
                Artifact(ArtifactNames.ModelCardPlot),
            ]);
        return new DemoRun(status, artifactsDirectory);
    }

    /// <summary>
    /// Another run, submitted later with the same recipe, as the runs API shows it while training: the first
    /// <paramref name="epochsDone"/> epochs of this run's history, no evaluation, no artefacts yet.
    /// </summary>
    public RunStatus InTraining(Guid runId, int epochsDone)
    {
        var shift = DateTimeOffset.UtcNow.AddSeconds(-40) - Status.Timestamps.TrainingStartedAt!.Value - TimeSpan.FromSeconds(Status.Training.History.Take(epochsDone).Sum(e => e.Seconds));
        var t = Status.Timestamps;
        var history = Status.Training.History.Take(epochsDone).ToList();
        return Status with
        {
            RunId = runId,
            Name = "demo, in training",
            Stage = RunStage.Training,
            Progress = RunStatus.ProgressWeights.Features + RunStatus.ProgressWeights.Training * epochsDone / Epochs,
            Timestamps = new RunTimestamps(t.SubmittedAt + shift, t.FeaturesStartedAt + shift, t.FeaturesReadyAt + shift, t.TrainingStartedAt + shift,
                null, null, null, DateTimeOffset.UtcNow),
            Training = Status.Training with
            {
                History = history,
                BestEpoch = history.Count == 0 ? 0 : history[^1].BestEpoch,
                BestValidationAccuracy = history.Count == 0 ? 0 : history[^1].BestValidationAccuracy,
                Completed = false,
            },
            Evaluation = null,
            Artifacts = [],
        };
    }
}
