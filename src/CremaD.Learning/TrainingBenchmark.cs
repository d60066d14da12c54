using System.Diagnostics;

namespace CremaD.Learning;

/// <summary>One measured epoch.</summary>
/// <param name="Seconds">Whole epoch: training pass plus validation pass.</param>
/// <param name="TrainFramesPerSecond">Training frames (all clips of the train partition) per second of the training pass.</param>
public sealed record BenchmarkEpoch(int Epoch, double Seconds, double TrainSeconds, double ValidationSeconds, double TrainFramesPerSecond);

/// <param name="PeakWorkingSetBytes">Process.PeakWorkingSet64 after the last epoch (the process's peak so far, so it includes anything loaded before).</param>
public sealed record TrainingBenchmarkResult(
    TrainingLoop Loop,
    string Device,
    int Threads,
    int TrainClips,
    int ValidationClips,
    long TrainFramesPerEpoch,
    double SetupSeconds,
    IReadOnlyList<BenchmarkEpoch> Epochs,
    long PeakWorkingSetBytes)
{
    public double MedianEpochSeconds => Median(Epochs.Select(e => e.Seconds));
    public double MedianTrainFramesPerSecond => Median(Epochs.Select(e => e.TrainFramesPerSecond));

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>
/// Times the training loops on real data without writing anything: the same session as <see cref="Trainer"/>
/// (same recipe, seed and schedule) run for a fixed number of epochs, no checkpoints, no early stopping.
/// </summary>
public static class TrainingBenchmark
{
    public static TrainingBenchmarkResult Run(TrainingData data, TrainingOptions options, TrainingLoop loop, int epochs,
        ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "At least one epoch is needed.");
        // The schedule spans the recipe's epochs; benchmarking fewer of them measures the same work per epoch.
        var measured = options with { Loop = loop, Epochs = Math.Max(options.Epochs, epochs) };

        var setup = Stopwatch.StartNew();
        using var session = new TrainingSession(data, measured);
        var setupSeconds = setup.Elapsed.TotalSeconds;
        observer?.OnTrainingStarted(new TrainingStarted(measured, 1, data.Train.Count, data.Validation.Count,
            session.BatchesPerEpoch, session.DeviceName, session.Threads));

        var results = new List<BenchmarkEpoch>(epochs);
        long framesPerEpoch = 0;
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var measurement = session.RunEpoch(epoch, observer, cancellationToken);
            framesPerEpoch = measurement.TrainFrames;
            results.Add(new BenchmarkEpoch(epoch, measurement.Record.Seconds, measurement.TrainSeconds, measurement.ValidationSeconds,
                measurement.TrainFrames / measurement.TrainSeconds));
            observer?.OnEpochCompleted(new EpochProgress(measurement.Record, false, 0, double.NaN, 0, epoch == epochs));
        }
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new TrainingBenchmarkResult(loop, session.DeviceName, session.Threads, data.Train.Count, data.Validation.Count,
            framesPerEpoch, setupSeconds, results, process.PeakWorkingSet64);
    }
}
