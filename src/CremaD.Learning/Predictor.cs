using CremaD.Datasets;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.utils.rnn;

namespace CremaD.Learning;

/// <summary>Predictions for a list of clips, in the list's order.</summary>
/// <param name="Labels">The clips' own labels (as given; meaningful for evaluation).</param>
/// <param name="Probabilities">Softmax over the classes, one row per clip, columns in <see cref="ClassNames"/> order.</param>
public sealed record PartitionPredictions(
    IReadOnlyList<string> Ids,
    IReadOnlyList<int> Labels,
    IReadOnlyList<int> Predicted,
    IReadOnlyList<float[]> Probabilities,
    IReadOnlyList<string> ClassNames)
{
    public double Accuracy => Labels.Count == 0 ? double.NaN : Labels.Zip(Predicted).Count(pair => pair.First == pair.Second) / (double)Labels.Count;
}

/// <summary>
/// Inference with a trained model directory (best_model + model.json): normalises raw features with the model's
/// own normalisation and returns class probabilities, batching clips of similar length into packed batches.
/// Not thread-safe: use one predictor per thread.
/// </summary>
public sealed class Predictor : IDisposable
{
    /// <summary>Clips per packed batch (clips are sorted by length first, so batches are compact).</summary>
    public const int DefaultBatchClips = 64;

    private readonly SerModel model;
    private readonly FeatureNormaliser normaliser;
    private readonly Device device;

    private Predictor(ModelManifest manifest, SerModel model, FeatureNormaliser normaliser, Device device)
    {
        Manifest = manifest;
        this.model = model;
        this.normaliser = normaliser;
        this.device = device;
    }

    public ModelManifest Manifest { get; }
    public IReadOnlyList<string> ClassNames => Manifest.ClassNames;
    public string Device => device.type == DeviceType.CUDA ? "cuda" : "cpu";

    /// <exception cref="FileNotFoundException">The directory lacks model.json or best_model.</exception>
    /// <exception cref="InvalidDataException">The files are not a usable model; the message names the file and the fault.</exception>
    public static Predictor Load(string modelDirectory, DeviceChoice device = DeviceChoice.Auto, int? threads = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        var manifest = ModelManifest.Read(Path.Combine(modelDirectory, ModelFiles.Manifest));
        var weightsPath = Path.Combine(modelDirectory, ModelFiles.BestModel);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"No model weights at '{weightsPath}'.", weightsPath);
        ComputeDevice.ApplyThreads(threads);
        var target = ComputeDevice.Resolve(device);
        SerModel model;
        // Building a model draws its initial weights from LibTorch's process-wide generator (overwritten by the load below):
        // not while a training in this process seeds and draws its own (TrainingSession).
        lock (SerModel.ConstructionLock) model = new SerModel(manifest.Model);
        try
        {
            model.load(weightsPath);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EndOfStreamException or IOException)
        {
            model.Dispose();
            throw new InvalidDataException($"{weightsPath}: cannot be loaded as the model model.json describes ({e.Message}).", e);
        }
        model.to(target);
        model.eval();
        return new Predictor(manifest, model, new FeatureNormaliser(manifest.Normalisation, target), target);
    }

    /// <summary>Class probabilities for each clip (labels are ignored).</summary>
    public float[][] PredictProbabilities(IReadOnlyList<FeatureClip> clips, int batchClips = DefaultBatchClips,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clips);
        if (batchClips < 1) throw new ArgumentOutOfRangeException(nameof(batchClips), batchClips, "Batch size must be positive.");
        for (var i = 0; i < clips.Count; i++)
        {
            var clip = clips[i] ?? throw new ArgumentException($"Clip {i} is null.", nameof(clips));
            FeatureChecks.CheckShape(clip, "input");
        }
        var probabilities = new float[clips.Count][];
        using var noGrad = no_grad();
        foreach (var batch in Batching.ByLength(clips.Select(c => c.Frames).ToArray(), batchClips))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var sequences = batch.Select(i =>
            {
                var features = tensor(clips[i].Data, [clips[i].Frames, FeatureChecks.Bands]);
                return normaliser.Normalise(device.type == DeviceType.CPU ? features : features.to(device));
            }).ToArray();
            var logits = model.call(pack_sequence(sequences, enforce_sorted: false));
            var rows = softmax(logits, 1).cpu().data<float>().ToArray();
            var classes = ClassNames.Count;
            for (var k = 0; k < batch.Length; k++) probabilities[batch[k]] = rows.AsSpan(k * classes, classes).ToArray();
        }
        return probabilities;
    }

    /// <summary>Predicted class (argmax) and probabilities for every clip of a labelled partition.</summary>
    public PartitionPredictions Evaluate(IReadOnlyList<FeatureClip> clips, int batchClips = DefaultBatchClips,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clips);
        FeatureChecks.CheckClips(clips, "evaluated", ClassNames.Count);
        var probabilities = PredictProbabilities(clips, batchClips, cancellationToken);
        var predicted = probabilities.Select(ArgMax).ToArray();
        return new PartitionPredictions(clips.Select(c => c.Id).ToArray(), clips.Select(c => c.Label).ToArray(), predicted,
            probabilities, ClassNames);
    }

    /// <summary>Index of the largest probability (the first on ties, like torch.argmax).</summary>
    public static int ArgMax(float[] probabilities)
    {
        var best = 0;
        for (var c = 1; c < probabilities.Length; c++)
        {
            if (probabilities[c] > probabilities[best]) best = c;
        }
        return best;
    }

    public void Dispose()
    {
        normaliser.Dispose();
        model.Dispose();
    }
}
