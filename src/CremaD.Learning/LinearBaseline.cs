using CremaD.Datasets;
using CremaD.Evaluation;
using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>How <see cref="LinearBaseline"/> did on one partition.</summary>
public sealed record BaselineScore(string Partition, int Clips, double Accuracy, double MacroF1);

/// <summary>What <see cref="LinearBaseline.Fit"/> produced: the scores and the test predictions' report.</summary>
public sealed record BaselineResult(
    double InverseRegularisation,
    int Iterations,
    double Objective,
    double Seconds,
    IReadOnlyList<BaselineScore> Scores,
    ClassificationReport TestReport);

/// <summary>
/// The linear reference the recurrent model has to beat: multinomial logistic regression on each clip's utterance
/// statistics — the mean and standard deviation of every log-mel band over the clip's frames (2 × 80 numbers) —
/// standardised with the train partition's statistics. The objective is scikit-learn's LogisticRegression with an L2
/// penalty: C × Σ cross-entropy + ½‖W‖² (bias unpenalised), here divided by C·N and minimised with L-BFGS from zero
/// weights, so the fit is deterministic and has no seed. No class weights, no augmentation: a plain baseline.
/// </summary>
public static class LinearBaseline
{
    /// <summary>scikit-learn's default C.</summary>
    public const double DefaultInverseRegularisation = 1.0;

    public const int DefaultIterations = 500;

    /// <summary>The utterance statistics of a clip: per band mean, then per band (population) standard deviation.</summary>
    public static float[] UtteranceStatistics(FeatureClip clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        var bands = FeatureChecks.Bands;
        var sums = new double[bands];
        var squares = new double[bands];
        for (var frame = 0; frame < clip.Frames; frame++)
        {
            var row = clip.Data.AsSpan(frame * bands, bands);
            for (var band = 0; band < bands; band++)
            {
                sums[band] += row[band];
                squares[band] += (double)row[band] * row[band];
            }
        }
        var statistics = new float[2 * bands];
        for (var band = 0; band < bands; band++)
        {
            var mean = sums[band] / clip.Frames;
            statistics[band] = (float)mean;
            statistics[bands + band] = (float)Math.Sqrt(Math.Max(0, squares[band] / clip.Frames - mean * mean));
        }
        return statistics;
    }

    /// <summary>Fits on the train partition and scores the train, validation and test partitions.</summary>
    public static BaselineResult Fit(FeatureStore store, IReadOnlyList<string> classNames, double inverseRegularisation = DefaultInverseRegularisation,
        int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(store);
        var partitions = new[] { Partition.Train, Partition.Validation, Partition.Test }.ToDictionary(p => p, p => store.LoadPartition(p));
        return Fit(partitions, classNames, store.Directory, inverseRegularisation, iterations);
    }

    /// <summary>Fits on <paramref name="partitions"/>' train clips and scores every partition given; <paramref name="source"/> names them in errors.</summary>
    public static BaselineResult Fit(IReadOnlyDictionary<Partition, IReadOnlyList<FeatureClip>> partitions, IReadOnlyList<string> classNames, string source,
        double inverseRegularisation = DefaultInverseRegularisation, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inverseRegularisation);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (partitions.GetValueOrDefault(Partition.Train) is not { Count: > 0 }) throw new InvalidDataException($"{source}: the train partition has no clips.");

        using var scope = NewDisposeScope();
        (Tensor X, long[] Y) Matrix(IReadOnlyList<FeatureClip> clips)
        {
            var rows = clips.Select(UtteranceStatistics).ToArray();
            var width = 2 * FeatureChecks.Bands;
            var flat = new float[rows.Length * width];
            for (var i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * width);
            return (tensor(flat, [rows.Length, width], ScalarType.Float64), clips.Select(c => (long)c.Label).ToArray());
        }
        var (trainX, trainY) = Matrix(partitions[Partition.Train]);
        var mean = trainX.mean([0L], true);
        // Constant columns (silent bands) get a tiny floor instead of a division by zero.
        var std = trainX.std(0L, false, true).clamp_min(1e-12);
        Tensor Standardise(Tensor x) => (x - mean) / std;

        var x = Standardise(trainX);
        var y = tensor(trainY);
        var classes = classNames.Count;
        var weight = new TorchSharp.Modules.Parameter(zeros([x.shape[1], classes], ScalarType.Float64));
        var bias = new TorchSharp.Modules.Parameter(zeros([classes], ScalarType.Float64));
        var penalty = 1.0 / (2.0 * inverseRegularisation * x.shape[0]);
        // TorchSharp's L-BFGS has no line search: unit steps, which suit a convex objective over standardised inputs.
        var optimizer = optim.LBFGS([weight, bias], 1, iterations, null, 1e-7, 1e-12, 20);
        Tensor Objective()
        {
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(x.matmul(weight) + bias, y) + weight.pow(2).sum() * penalty;
            loss.backward();
            return loss;
        }
        optimizer.step(Objective);
        double objective;
        using (no_grad()) objective = (nn.functional.cross_entropy(x.matmul(weight) + bias, y) + weight.pow(2).sum() * penalty).item<double>();
        if (!double.IsFinite(objective)) throw new InvalidOperationException($"{source}: the logistic regression diverged (objective {objective}).");

        var scores = new List<BaselineScore>();
        ClassificationReport? testReport = null;
        using (no_grad())
        {
            foreach (var (partition, clips) in partitions)
            {
                if (clips.Count == 0) continue;
                var (px, py) = Matrix(clips);
                var predicted = Standardise(px).matmul(weight).add(bias).argmax(1).data<long>().Select(v => (int)v).ToList();
                var report = ClassificationReport.Compute(py.Select(v => (int)v).ToList(), predicted, classNames);
                scores.Add(new BaselineScore(partition.ToName(), clips.Count, report.Accuracy, report.MacroAvg.F1));
                if (partition == Partition.Test) testReport = report;
            }
        }
        if (testReport is null) throw new InvalidDataException($"{source}: the test partition has no clips.");
        return new BaselineResult(inverseRegularisation, iterations, objective, clock.Elapsed.TotalSeconds, scores, testReport);
    }
}
