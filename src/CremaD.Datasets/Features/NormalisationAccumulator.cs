using CremaD.Audio;

namespace CremaD.Datasets;

/// <summary>
/// The train-set normalisation reduction, in one place for every way features are made: per-band frame count,
/// mean and sum of squared deviations (M2) in float64, combined with Chan et al.'s pairwise update
/// (<see cref="BandStatistics"/>). The local feature stage folds in one clip at a time; the distributed feature
/// service folds the clips of a shard, ships the result (count, mean, M2) in a message, and the coordinator
/// merges the shards with <see cref="Merge(long, int, ReadOnlySpan{double}, ReadOnlySpan{double})"/>. Merged in
/// the same order, the same clips give the same statistics whichever process summarised them.
/// </summary>
public sealed class NormalisationAccumulator
{
    private readonly double[] _mean;
    private readonly double[] _m2;
    private long _frames;

    public NormalisationAccumulator(int bands = FeatureRecipe.MelBands)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bands, 1);
        _mean = new double[bands];
        _m2 = new double[bands];
    }

    public int Bands => _mean.Length;

    /// <summary>Frames summarised so far.</summary>
    public long Frames => _frames;

    /// <summary>Clips summarised so far.</summary>
    public int Clips { get; private set; }

    /// <summary>Per-band mean of the frames so far.</summary>
    public ReadOnlySpan<double> Mean => _mean;

    /// <summary>Per-band sum of squared deviations from <see cref="Mean"/>.</summary>
    public ReadOnlySpan<double> M2 => _m2;

    /// <summary>
    /// Folds in one clip's row-major [<paramref name="frames"/> x <see cref="Bands"/>] matrix. A clip with a
    /// non-finite value would poison every later result, so it is left out and false is returned.
    /// </summary>
    public bool AddClip(ReadOnlySpan<float> data, int frames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        if (data.Length != (long)frames * Bands)
        {
            throw new ArgumentException($"A clip of {frames} frames x {Bands} bands has {(long)frames * Bands} values, got {data.Length}.", nameof(data));
        }
        Span<double> mean = stackalloc double[Bands];
        Span<double> m2 = stackalloc double[Bands];
        BandStatistics.OfClip(data, frames, mean, m2);
        if (!BandStatistics.AllFinite(mean)) return false;
        Merge(frames, 1, mean, m2);
        return true;
    }

    /// <summary>Folds in statistics summarised elsewhere: <paramref name="frames"/> frames from <paramref name="clips"/> clips.</summary>
    public void Merge(long frames, int clips, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        ArgumentOutOfRangeException.ThrowIfNegative(clips);
        if (mean.Length != Bands || m2.Length != Bands)
        {
            throw new ArgumentException($"Statistics to merge must have {Bands} bands, got a mean of {mean.Length} and an M2 of {m2.Length}.");
        }
        Clips += clips;
        BandStatistics.Combine(ref _frames, _mean, _m2, frames, mean, m2);
    }

    /// <summary>Folds in another accumulator's statistics.</summary>
    public void Merge(NormalisationAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Merge(other.Frames, other.Clips, other.Mean, other.M2);
    }

    /// <summary>
    /// The per-band mean and the unbiased (n - 1, as torch.std) standard deviation, as float32; a single frame
    /// has no spread (std 0).
    /// </summary>
    /// <exception cref="InvalidOperationException">No frames were added.</exception>
    public Normalisation ToNormalisation()
    {
        if (_frames == 0) throw new InvalidOperationException("The normalisation needs at least one train frame; none was added.");
        var mean = _mean.Select(v => (float)v).ToArray();
        var std = _m2.Select(v => _frames > 1 ? (float)Math.Sqrt(v / (_frames - 1)) : 0f).ToArray();
        return new Normalisation(mean, std, _frames);
    }
}
