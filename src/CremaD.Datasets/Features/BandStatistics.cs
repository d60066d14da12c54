using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
    /// <remarks>
    /// Vectorised across bands, never across frames: each band still adds its frames one by one in frame order,
    /// with the same float64 operations (no fused multiply-add), so the result is bit for bit the scalar loop's.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a per-sample loop: optimised from its first call (see LogMelExtractor)
    public static void OfClip(ReadOnlySpan<float> data, int frames, Span<double> mean, Span<double> m2)
    {
        var bands = mean.Length;
        mean.Clear();
        m2.Clear();
        if (Vector.IsHardwareAccelerated && bands % Vector<float>.Count == 0)
        {
            OfClipVectorised(data, frames, mean, m2);
            return;
        }
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

    /// <summary><see cref="OfClip"/> with whole vectors of bands (bands a multiple of <see cref="Vector{T}.Count"/> floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see OfClip
    private static void OfClipVectorised(ReadOnlySpan<float> data, int frames, Span<double> mean, Span<double> m2)
    {
        var bands = mean.Length;
        var floatVectors = bands / Vector<float>.Count;
        var rows = MemoryMarshal.Cast<float, Vector<float>>(data[..(frames * bands)]);
        var meanVectors = MemoryMarshal.Cast<double, Vector<double>>(mean);
        var m2Vectors = MemoryMarshal.Cast<double, Vector<double>>(m2);
        for (var f = 0; f < frames; f++)
        {
            var row = rows.Slice(f * floatVectors, floatVectors);
            for (var v = 0; v < floatVectors; v++)
            {
                Vector.Widen(row[v], out var low, out var high);
                meanVectors[2 * v] += low;
                meanVectors[2 * v + 1] += high;
            }
        }
        var count = new Vector<double>(frames);
        for (var v = 0; v < meanVectors.Length; v++) meanVectors[v] /= count;
        for (var f = 0; f < frames; f++)
        {
            var row = rows.Slice(f * floatVectors, floatVectors);
            for (var v = 0; v < floatVectors; v++)
            {
                Vector.Widen(row[v], out var low, out var high);
                var dLow = low - meanVectors[2 * v];
                var dHigh = high - meanVectors[2 * v + 1];
                m2Vectors[2 * v] += dLow * dLow;
                m2Vectors[2 * v + 1] += dHigh * dHigh;
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
