using static TorchSharp.torch;

namespace CremaD.Learning;

/// <summary>
/// SpecAugment as the seed applied it to NORMALISED training features: with <see cref="Probability"/> per clip,
/// <see cref="TimeMasks"/> time masks of 0..<see cref="MaxTimeWidth"/> frames and <see cref="FrequencyMasks"/>
/// frequency masks of 0..<see cref="MaxFrequencyWidth"/> bands, each set to zero (the normalised mean).
/// </summary>
public sealed record SpecAugment(
    double Probability = 0.4,
    int TimeMasks = 2,
    int MaxTimeWidth = 12,
    int FrequencyMasks = 2,
    int MaxFrequencyWidth = 8)
{
    public static SpecAugment Recipe { get; } = new();

    /// <summary>
    /// Draws the masks for one clip of <paramref name="frames"/> x <paramref name="bands"/> from <paramref name="random"/>;
    /// null when the clip is left as it is. The draws are the same whether the masks are then applied to an array or a
    /// tensor, so both training loops augment identically for the same random state.
    /// </summary>
    public SpecAugmentMasks? Draw(Random random, int frames, int bands)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (random.NextDouble() >= Probability) return null;
        var time = new (int Start, int Width)[TimeMasks];
        for (var i = 0; i < TimeMasks; i++) time[i] = DrawSpan(random, MaxTimeWidth, frames);
        var frequency = new (int Start, int Width)[FrequencyMasks];
        for (var i = 0; i < FrequencyMasks; i++) frequency[i] = DrawSpan(random, MaxFrequencyWidth, bands);
        return new SpecAugmentMasks(time, frequency);
    }

    private static (int Start, int Width) DrawSpan(Random random, int maxWidth, int length)
    {
        var width = Math.Min(random.Next(maxWidth + 1), length);
        var start = random.Next(length - width + 1);
        return (start, width);
    }
}

/// <summary>Time spans (frames) and frequency spans (bands) to zero in one clip.</summary>
public sealed record SpecAugmentMasks(IReadOnlyList<(int Start, int Width)> Time, IReadOnlyList<(int Start, int Width)> Frequency)
{
    /// <summary>Zeroes the masked cells of a row-major [frames x bands] array in place.</summary>
    public void ApplyTo(float[] features, int frames, int bands)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (features.Length != frames * bands) throw new ArgumentException($"Expected {frames} x {bands} values, got {features.Length}.", nameof(features));
        foreach (var (start, width) in Time) Array.Clear(features, start * bands, width * bands);
        foreach (var (start, width) in Frequency)
        {
            if (width == 0) continue;
            for (var frame = 0; frame < frames; frame++) Array.Clear(features, frame * bands + start, width);
        }
    }

    /// <summary>Zeroes the masked cells of a [frames x bands] tensor in place (the tensor must own its storage).</summary>
    public void ApplyTo(Tensor features)
    {
        ArgumentNullException.ThrowIfNull(features);
        foreach (var (start, width) in Time)
        {
            if (width == 0) continue;
            using var span = features.narrow(0, start, width);
            span.fill_(0);
        }
        foreach (var (start, width) in Frequency)
        {
            if (width == 0) continue;
            using var span = features.narrow(1, start, width);
            span.fill_(0);
        }
    }
}
