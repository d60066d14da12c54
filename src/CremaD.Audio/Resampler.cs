using System.Collections.Concurrent;
using System.Numerics;

namespace CremaD.Audio;

/// <summary>
/// Band-limited resampling that reproduces torchaudio 0.13 <c>functional.resample</c> with its defaults
/// (sinc_interpolation, Hann window, lowpass_filter_width 6, rolloff 0.99), so features of 8/22.05/44.1/48 kHz
/// clips match the seed's. Thread-safe: kernels are immutable and cached per reduced rate pair (a bounded number).
/// </summary>
/// <remarks>
/// torchaudio builds a dense [new x (2·width + orig)] kernel and runs a strided conv1d; its Hann window is
/// zero wherever |t| ≥ lowpass_filter_width, so each output phase only has about 2·width non-zero taps.
/// We store just those taps, which gives the same sums without the dense kernel's cost.
/// </remarks>
public static class Resampler
{
    private static readonly ConcurrentDictionary<(int From, int To), ResampleKernel> Kernels = new();

    /// <summary>
    /// Kernels kept for reuse. A dataset has a few rates, but the rate is read from each file, and a kernel for an odd
    /// rate pair (44,101 → 16,000 Hz reduces to nothing) holds 16,000 phases of taps, megabytes each: beyond this many,
    /// a kernel is built for its clip and dropped, so files with made-up rates cannot grow the process.
    /// </summary>
    internal const int MaxCachedKernels = 16;

    /// <summary>Kernels cached now (for tests).</summary>
    internal static int CachedKernelCount => Kernels.Count;

    /// <summary>Empties the cache (for tests: results never depend on it).</summary>
    internal static void ClearCachedKernels() => Kernels.Clear();

    /// <summary>Output length torchaudio produces: ceil(toRate · length / fromRate).</summary>
    public static int OutputLength(int inputLength, int fromRate, int toRate)
    {
        ValidateRates(fromRate, toRate);
        ArgumentOutOfRangeException.ThrowIfNegative(inputLength);
        if (fromRate == toRate) return inputLength;
        var (from, to) = Reduce(fromRate, toRate);
        var length = ((long)to * inputLength + from - 1) / from;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(inputLength), $"resampling {inputLength} samples from {fromRate} to {toRate} Hz yields too many samples");
        return (int)length;
    }

    public static float[] Resample(ReadOnlySpan<float> input, int fromRate, int toRate)
    {
        var output = new float[OutputLength(input.Length, fromRate, toRate)];
        Resample(input, fromRate, toRate, output);
        return output;
    }

    /// <summary>Resamples into <paramref name="destination"/>, which must hold at least <see cref="OutputLength"/> samples.</summary>
    public static void Resample(ReadOnlySpan<float> input, int fromRate, int toRate, Span<float> destination)
    {
        var outputLength = OutputLength(input.Length, fromRate, toRate);
        if (destination.Length < outputLength)
            throw new ArgumentException($"destination holds {destination.Length} samples; {outputLength} needed", nameof(destination));
        if (fromRate == toRate)
        {
            input.CopyTo(destination);
            return;
        }
        var (from, to) = Reduce(fromRate, toRate);
        var kernel = Kernels.TryGetValue((from, to), out var cached) ? cached : CacheIfRoom(from, to);
        kernel.Apply(input, destination[..outputLength]);
    }

    private static readonly Lock CacheGate = new();

    // Built outside the lock (it takes milliseconds); added under it, so threads that check the count at once cannot
    // together push the cache past its bound.
    private static ResampleKernel CacheIfRoom(int from, int to)
    {
        var built = new ResampleKernel(from, to);
        lock (CacheGate)
        {
            return Kernels.Count < MaxCachedKernels ? Kernels.GetOrAdd((from, to), built) : built;
        }
    }

    private static void ValidateRates(int fromRate, int toRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fromRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(toRate);
    }

    private static (int From, int To) Reduce(int fromRate, int toRate)
    {
        var gcd = (int)BigInteger.GreatestCommonDivisor(fromRate, toRate);
        return (fromRate / gcd, toRate / gcd);
    }
}

/// <summary>The non-zero part of torchaudio's sinc resampling kernel for one reduced rate pair.</summary>
internal sealed class ResampleKernel
{
    private readonly int _from;
    private readonly int _to;
    private readonly int _width;
    /// <summary>Per output phase: offset of the first non-zero tap relative to the phase's block start in the input.</summary>
    private readonly int[] _tapOffset;
    /// <summary>Per output phase: taps, zero-padded to <see cref="_stride"/> so whole vectors can be read.</summary>
    private readonly float[] _taps;
    private readonly int _stride;

    public ResampleKernel(int from, int to)
    {
        _from = from;
        _to = to;
        const int filterWidth = FeatureRecipe.ResampleLowpassFilterWidth;
        var baseFrequency = Math.Min(from, to) * FeatureRecipe.ResampleRolloff;
        _width = (int)Math.Ceiling(filterWidth * from / baseFrequency);
        var kernelLength = 2 * _width + from;
        var scale = baseFrequency / from;

        // Only taps with |t| < filterWidth are non-zero, t(phase, k) = base·((k - width)/from - phase/to),
        // i.e. k within width + from·(phase/to ± filterWidth/base).
        var reach = from * filterWidth / baseFrequency;
        var phaseTaps = new float[to][];
        var phaseFirst = new int[to];
        var longest = 0;
        var values = new List<float>();
        for (var phase = 0; phase < to; phase++)
        {
            var centre = _width + (double)from * phase / to;
            var first = Math.Max(0, (int)Math.Floor(centre - reach));
            var last = Math.Min(kernelLength - 1, (int)Math.Ceiling(centre + reach));
            values.Clear();
            for (var k = first; k <= last; k++)
            {
                var tap = TorchKernelTap(k - _width, from, phase, to, (float)baseFrequency, (float)scale);
                if (values.Count == 0)
                {
                    if (tap == 0) continue;
                    phaseFirst[phase] = k;
                }
                values.Add(tap);
            }
            while (values.Count > 0 && values[^1] == 0) values.RemoveAt(values.Count - 1);
            phaseTaps[phase] = [.. values];
            longest = Math.Max(longest, values.Count);
        }

        var lanes = Vector<float>.Count;
        _stride = Math.Max(lanes, (longest + lanes - 1) / lanes * lanes);
        _taps = new float[to * _stride];
        _tapOffset = new int[to];
        for (var phase = 0; phase < to; phase++)
        {
            // conv1d over the input padded with `width` zeros on the left: padded index k is input index k - width.
            _tapOffset[phase] = phaseFirst[phase] - _width;
            phaseTaps[phase].CopyTo(_taps, phase * _stride);
        }
    }

    /// <summary>
    /// One tap of torchaudio's kernel, evaluated with its float32 operations in its order (it builds the
    /// kernel in the waveform's dtype). Matching that rounding, rather than computing in double, takes the
    /// resampled parity fixtures from ~0.02 dB to ~0.001 dB max difference.
    /// </summary>
    private static float TorchKernelTap(int offset, int from, int phase, int to, float baseFrequency, float scale)
    {
        const float filterWidth = FeatureRecipe.ResampleLowpassFilterWidth;
        var t = (float)offset / from + (float)-phase / to;
        t *= baseFrequency;
        if (Math.Abs(t) >= filterWidth)
            return 0f; // clamped to ±width, where the Hann window is cos(π/2)² ≈ 0
        var window = MathF.Cos(t * MathF.PI / filterWidth / 2f);
        window *= window;
        var x = t * MathF.PI;
        var sinc = x == 0 ? 1f : MathF.Sin(x) / x;
        return sinc * (window * scale);
    }

    /// <summary>output[block·to + phase] = Σ_k input[block·from + tapOffset[phase] + k] · taps[phase][k].</summary>
    public void Apply(ReadOnlySpan<float> input, Span<float> output)
    {
        var lanes = Vector<float>.Count;
        var taps = _taps.AsSpan();
        for (var block = 0; ; block++)
        {
            var blockStart = block * _from;
            for (var phase = 0; phase < _to; phase++)
            {
                var outputIndex = block * _to + phase;
                if (outputIndex >= output.Length) return;
                var start = blockStart + _tapOffset[phase];
                var phaseTaps = taps.Slice(phase * _stride, _stride);
                float sum;
                if (start >= 0 && start + _stride <= input.Length)
                {
                    var window = input.Slice(start, _stride);
                    // Accumulate in double: upsampled clips' stop band sits ~70 dB down, where float32
                    // rounding in the sum shows up in the top mel bands.
                    Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
                    for (var k = 0; k < _stride; k += lanes)
                    {
                        Vector.Widen(new Vector<float>(window[k..]), out var samplesLow, out var samplesHigh);
                        Vector.Widen(new Vector<float>(phaseTaps[k..]), out var tapsLow, out var tapsHigh);
                        low += samplesLow * tapsLow;
                        high += samplesHigh * tapsHigh;
                    }
                    sum = (float)Vector.Sum(low + high);
                }
                else
                {
                    // Near the ends the kernel reaches into torchaudio's zero padding.
                    var acc = 0.0;
                    for (var k = 0; k < _stride; k++)
                    {
                        var index = start + k;
                        if ((uint)index < (uint)input.Length)
                            acc += (double)input[index] * phaseTaps[k];
                    }
                    sum = (float)acc;
                }
                output[outputIndex] = sum;
            }
        }
    }
}
