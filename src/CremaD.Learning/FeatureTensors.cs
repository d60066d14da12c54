using CremaD.Datasets;
using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>Normalises [frames x bands] feature tensors with the train partition's per-band mean and std.</summary>
internal sealed class FeatureNormaliser : IDisposable
{
    /// <summary>A band whose train std is zero would divide by zero; it is divided by this instead.</summary>
    public const float StdFloor = 1e-8f;

    private readonly Tensor mean;
    private readonly Tensor std;

    public FeatureNormaliser(Normalisation normalisation, Device device)
    {
        FeatureChecks.CheckNormalisation(normalisation);
        mean = tensor(normalisation.Mean).to(device);
        using var rawStd = tensor(normalisation.Std);
        std = rawStd.clamp_min(StdFloor).to(device);
    }

    /// <summary>(x − mean) / std as a new tensor.</summary>
    public Tensor Normalise(Tensor features) => (features - mean) / std;

    /// <summary>Same arithmetic as <see cref="Normalise"/>, in place.</summary>
    public void NormaliseInPlace(Tensor features) => features.sub_(mean).div_(std);

    public void Dispose()
    {
        mean.Dispose();
        std.Dispose();
    }
}

/// <summary>
/// A partition's features resident on the device as ONE contiguous normalised [total frames x bands] tensor, with
/// each clip's first row and length, so a batch takes views instead of copying arrays into new tensors every step.
/// </summary>
internal sealed class ResidentClips : IDisposable
{
    private ResidentClips(Tensor features, long[] offsets, int[] frames, long[] labels)
    {
        Features = features;
        Offsets = offsets;
        Frames = frames;
        Labels = labels;
    }

    public Tensor Features { get; }
    public long[] Offsets { get; }
    public int[] Frames { get; }
    public long[] Labels { get; }
    public int Count => Frames.Length;

    public static ResidentClips Build(IReadOnlyList<FeatureClip> clips, FeatureNormaliser normaliser, Device device)
    {
        var offsets = new long[clips.Count];
        var frames = new int[clips.Count];
        var labels = new long[clips.Count];
        long total = 0;
        for (var i = 0; i < clips.Count; i++)
        {
            offsets[i] = total;
            frames[i] = clips[i].Frames;
            labels[i] = clips[i].Label;
            total += clips[i].Frames;
        }
        var features = empty(total, FeatureChecks.Bands, dtype: ScalarType.Float32, device: device);
        for (var i = 0; i < clips.Count; i++)
        {
            using var scope = NewDisposeScope();
            var source = tensor(clips[i].Data, [clips[i].Frames, FeatureChecks.Bands]);
            features.narrow(0, offsets[i], frames[i]).copy_(source);
        }
        normaliser.NormaliseInPlace(features);
        return new ResidentClips(features, offsets, frames, labels);
    }

    /// <summary>Clip <paramref name="index"/> as a view into <see cref="Features"/> (no copy).</summary>
    public Tensor View(int index) => Features.narrow(0, Offsets[index], Frames[index]);

    public void Dispose() => Features.Dispose();
}
