using System.Runtime.CompilerServices;

namespace CremaD.Datasets;

/// <summary>
/// Per-band count, mean and sum of squared deviations (M2) in float64. A clip's statistics are computed
/// in two passes over its frames while they are still in cache, and clips are combined with Chan et al.'s
/// pairwise update — numerically as good as a two-pass over all frames, without a second read, and
/// (combined in dataset order) independent of which worker extracted which clip.
/// </summary>
internal static class BandStatistics
{
    /// <summary>Writes the per-band mean and M2 of row-major <paramref name="data"/> [frames x bands].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a per-sample loop: optimised from its first call (see LogMelExtractor)
    public static void OfClip(ReadOnlySpan<float> data, int frames, Span<double> mean, Span<double> m2)
    {
        var bands = mean.Length;
        mean.Clear();
        m2.Clear();
        for (var f = 0; f < frames; f++)
        {
            var row = data.Slice(f * bands, bands);
            for (var b = 0; b < bands; b++) mean[b] += row[b];
        }
        for (var b = 0; b < bands; b++) mean[b] /= frames;
        for (var f = 0; f < frames; f++)
        {
            var row = data.Slice(f * bands, bands);
            for (var b = 0; b < bands; b++)
            {
                var d = row[b] - mean[b];
                m2[b] += d * d;
            }
        }
    }

    /// <summary>True when every value that went into <paramref name="mean"/> was finite (NaN and ±Inf propagate into a sum).</summary>
    public static bool AllFinite(ReadOnlySpan<double> mean)
    {
        foreach (var value in mean)
        {
            if (!double.IsFinite(value)) return false;
        }
        return true;
    }

    /// <summary>Folds a clip's (<paramref name="count"/>, mean, M2) into a running total.</summary>
    public static void Combine(ref long total, Span<double> totalMean, Span<double> totalM2, long count, ReadOnlySpan<double> mean, ReadOnlySpan<double> m2)
    {
        if (count == 0) return;
        var combined = total + count;
        for (var b = 0; b < totalMean.Length; b++)
        {
            var delta = mean[b] - totalMean[b];
            totalMean[b] += delta * count / combined;
            totalM2[b] += m2[b] + delta * delta * ((double)total * count / combined);
        }
        total = combined;
    }
}
