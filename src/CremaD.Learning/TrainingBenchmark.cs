using System.Diagnostics;

namespace CremaD.Learning;

/// <summary>One measured epoch.</summary>
/// <param name="Seconds">Whole epoch: training pass plus validation pass.</param>
/// <param name="TrainFramesPerSecond">Training frames (all clips of the train partition) per second of the training pass.</param>
public sealed record BenchmarkEpoch(int Epoch, double Seconds, double TrainSeconds, double ValidationSeconds, double TrainFramesPerSecond);

/// <param name="PeakWorkingSetBytes">Process.PeakWorkingSet64 after the last epoch (the process's peak so far, so it includes anything loaded before).</param>
/// <param name="FlopsPerTrainFrame">The model's <see cref="TrainingFlops.PerTrainFrame"/>.</param>
public sealed record TrainingBenchmarkResult(
    TrainingLoop Loop,
    string Device,
    int Threads,
    int TrainClips,
    int ValidationClips,
    long TrainFramesPerEpoch,
    double SetupSeconds,
    IReadOnlyList<BenchmarkEpoch> Epochs,
    long PeakWorkingSetBytes,
    double FlopsPerTrainFrame)
{
    public double MedianEpochSeconds => Median(Epochs.Select(e => e.Seconds));
    public double MedianTrainFramesPerSecond => Median(Epochs.Select(e => e.TrainFramesPerSecond));

    /// <summary>Achieved training arithmetic rate, 10⁹ FLOP/s: median train frames/s × <see cref="FlopsPerTrainFrame"/>.</summary>
    public double MedianTrainGflops => MedianTrainFramesPerSecond * FlopsPerTrainFrame / 1e9;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>
/// The arithmetic of training <see cref="SerModel"/>, counted from the GRU equations, to turn frames/s into FLOP/s.
/// Per frame, per layer (input size I: the features for the first layer, 2H above it), per direction, the forward
/// pass multiplies the input by W_ih (3H × I) and the previous state by W_hh (3H × H): 3H·(I + H) multiply-adds,
/// 2·3H·(I + H) FLOP. The backward pass forms the gradients with respect to the inputs and to the weights, one
/// product of the same size each: ≈ 2 × forward. Per frame therefore
/// <c>3 · Σ_layers 2 directions · 2·3H·(I_layer + H)</c>; for the recipe (H 256, 80 bands, 2 layers)
/// 3 · 2 · (2·768·336 + 2·768·768) = 10,174,464 FLOP ≈ 10.2 MFLOP.
/// Left out, as small: the gate nonlinearities and products (O(H) per frame), the head (once per clip, not per
/// frame), the optimiser, and the first layer's input gradient that is never formed (it would be 2.4 % of the count).
/// </summary>
public static class TrainingFlops
{
    /// <summary>The formula of <see cref="PerTrainFrame"/>, as reported by the benchmark.</summary>
    public const string Formula =
        "per train frame: 3 (forward + backward ≈ 2 × forward) × Σ over layers of 2 directions × 2·3H·(I + H) FLOP " +
        "(W_ih: 3H×I and W_hh: 3H×H multiply-adds per frame; I = input bands for layer 1, 2H above); gates, head and optimiser left out";

    /// <summary>Training FLOP per frame of the train partition (forward and backward pass), see the class remarks.</summary>
    public static double PerTrainFrame(ModelOptions model)
    {
        ArgumentNullException.ThrowIfNull(model);
        double forward = 0;
        for (var layer = 0; layer < model.NumLayers; layer++)
        {
            var input = layer == 0 ? model.InputSize : 2.0 * model.HiddenSize;
            forward += 2 * 2.0 * 3 * model.HiddenSize * (input + model.HiddenSize);
        }
        return 3 * forward;
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
            framesPerEpoch, setupSeconds, results, process.PeakWorkingSet64, TrainingFlops.PerTrainFrame(session.Model.Options));
    }
}
