using CremaD.Datasets;
using CremaD.Learning;

namespace CremaD.Learning.Tests;

/// <summary>Small learnable feature sets: each class lifts its own block of mel bands above Gaussian noise.</summary>
internal static class SyntheticData
{
    public const int Bands = 80;
    public static readonly string[] ClassNames = ["low", "mid", "high"];

    public static List<FeatureClip> Clips(int count, int seed, string prefix, int minFrames = 12, int maxFrames = 40, double signal = 1.5)
    {
        var random = new Random(seed);
        var clips = new List<FeatureClip>(count);
        for (var i = 0; i < count; i++)
        {
            var label = i % ClassNames.Length;
            var frames = random.Next(minFrames, maxFrames + 1);
            var data = new float[frames * Bands];
            for (var f = 0; f < frames; f++)
            {
                for (var b = 0; b < Bands; b++)
                {
                    var noise = Gaussian(random);
                    var lifted = b >= label * 24 && b < label * 24 + 16 ? signal : 0;
                    data[f * Bands + b] = (float)(-40 + 10 * (noise + lifted));
                }
            }
            clips.Add(new FeatureClip($"{prefix}{i:D3}", label, frames, data));
        }
        return clips;
    }

    /// <summary>Per-band mean and std over every frame of <paramref name="clips"/>, as the feature store computes them.</summary>
    public static Normalisation NormalisationOf(IReadOnlyList<FeatureClip> clips)
    {
        var sum = new double[Bands];
        var squares = new double[Bands];
        long frames = 0;
        foreach (var clip in clips)
        {
            for (var i = 0; i < clip.Data.Length; i++)
            {
                sum[i % Bands] += clip.Data[i];
                squares[i % Bands] += (double)clip.Data[i] * clip.Data[i];
            }
            frames += clip.Frames;
        }
        var mean = new float[Bands];
        var std = new float[Bands];
        for (var b = 0; b < Bands; b++)
        {
            mean[b] = (float)(sum[b] / frames);
            std[b] = (float)Math.Sqrt(Math.Max(0, squares[b] / frames - sum[b] / frames * (sum[b] / frames)));
        }
        return new Normalisation(mean, std, frames);
    }

    public static TrainingData Data(int trainClips = 36, int validationClips = 18, int seed = 1)
    {
        var train = Clips(trainClips, seed, "train");
        var validation = Clips(validationClips, seed + 1000, "val");
        return new TrainingData(train, validation, NormalisationOf(train), ClassNames);
    }

    /// <summary>A recipe small enough for unit tests: tiny GRU, few epochs, one thread (reproducible).</summary>
    public static TrainingOptions TinyOptions(TrainingLoop loop, int epochs = 4) => new()
    {
        Epochs = epochs,
        BatchSize = 8,
        LearningRate = 1e-2,
        HiddenSize = 16,
        NumLayers = 2,
        Dropout = 0.1,
        Patience = 50,
        Device = DeviceChoice.Cpu,
        Loop = loop,
        Threads = 1,
    };

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}

/// <summary>A directory under the system temp folder, deleted with its contents at dispose.</summary>
internal sealed class TemporaryDirectory : IDisposable
{
    public TemporaryDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cremad-learning-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still mapped by LibTorch; the OS temp cleaner will take it.
        }
    }
}
