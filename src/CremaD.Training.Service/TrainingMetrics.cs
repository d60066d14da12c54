using System.Diagnostics.Metrics;
using CremaD.Evaluation;
using CremaD.Telemetry;

namespace CremaD.Training.Service;

/// <summary>
/// The trainer's meters: each epoch's duration, and the latest epoch's figures as gauges (tagged with the run and, for
/// loss and accuracy, the partition), so the Aspire dashboard's metrics page plots a run's learning curves next to the
/// services' own meters.
/// </summary>
public static class TrainingMetrics
{
    private static readonly Histogram<double> EpochSeconds = CremaDTelemetry.TrainingMeter.CreateHistogram<double>(
        "cremad.training.epoch.duration", "s", "Wall-clock time of a training epoch.");

    private static readonly Gauge<double> EpochLoss = CremaDTelemetry.TrainingMeter.CreateGauge<double>(
        "cremad.training.loss", null, "Mean loss of the latest epoch (tag cremad.partition: train or validation).");

    private static readonly Gauge<double> EpochAccuracy = CremaDTelemetry.TrainingMeter.CreateGauge<double>(
        "cremad.training.accuracy", null, "Accuracy (0..1) of the latest epoch (tag cremad.partition: train or validation).");

    private static readonly Gauge<double> LearningRate = CremaDTelemetry.TrainingMeter.CreateGauge<double>(
        "cremad.training.learning_rate", null, "Learning rate of the latest epoch.");

    public static void RecordEpoch(Guid runId, EpochRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var run = new KeyValuePair<string, object?>(CremaDTelemetry.RunIdTag, runId.ToString("D"));
        var train = new KeyValuePair<string, object?>("cremad.partition", "train");
        var validation = new KeyValuePair<string, object?>("cremad.partition", "validation");
        EpochSeconds.Record(record.Seconds, run);
        EpochLoss.Record(record.TrainLoss, run, train);
        EpochLoss.Record(record.ValidationLoss, run, validation);
        EpochAccuracy.Record(record.TrainAccuracy, run, train);
        EpochAccuracy.Record(record.ValidationAccuracy, run, validation);
        LearningRate.Record(record.LearningRate, run);
    }
}
