using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CremaD.Audio;

/// <summary>
/// The seed's log-mel features (steps 4–9 of tests/fixtures/logmel/README.md) for a 16 kHz mono waveform:
/// divide by the unbiased std, pre-emphasis, 1024-sample periodic-Hann frames every 256 samples without
/// padding, |rfft|², 80 HTK/Slaney mel filters, 10·log10(max(x, 1e-10)).
/// </summary>
/// <remarks>
/// Speed: frames are processed in batches of <see cref="Vector{T}.Count"/>, one frame per SIMD lane, so every
/// FFT butterfly, mel sum and logarithm runs on whole vectors with no shuffles (only loading the frames
/// transposes them). Each 1024-point real FFT is a 512-point complex FFT (even samples real, odd imaginary)
/// plus the standard split step; the mel filters are applied over their non-zero bins only. Nothing is
/// allocated per frame. Precision: float32 throughout, like torch; the parity tests bound the difference.
/// Not thread-safe: the extractor owns its scratch buffers. Use one per worker thread.
/// <para>Hot: the kernels are compiled fully optimised on first call (AggressiveOptimization), not through the tiers.
/// In a service host, tiered compilation's background thread is busy for many seconds with the host's own start-up
/// code, and a profile of the feature service showed these kernels still running their unoptimised and instrumented
/// versions 20 s into a run; the same holds, shorter, for every CLI run.</para>
/// </remarks>
public sealed class LogMelExtractor
{
    private const int FftSize = FeatureRecipe.FftSize;
    private const int HalfSize = FftSize / 2;          // complex points
    private const int Bins = FftSize / 2 + 1;          // one-sided spectrum
    private const int Hop = FeatureRecipe.HopLength;
    private const int Bands = FeatureRecipe.MelBands;

    private static readonly int Lanes = Vector<float>.Count;

    // Cache-line aligned: an ordinary array's data starts 16 bytes into a line, so every other 32-byte vector
    // load or store of the FFT would straddle two cache lines.
    private readonly AlignedVectors _re = new(HalfSize);
    private readonly AlignedVectors _im = new(HalfSize);
    private readonly AlignedVectors _power = new(Bins);
    private readonly AlignedVectors _mel = new(Bands);
    private readonly bool _transposeWithAvx;
    private AlignedVectors _signal = new(0); // aligned too: the frame loads are whole vectors at multiples of 8 samples

    public LogMelExtractor() : this(useIntrinsics: true)
    {
    }

    /// <param name="useIntrinsics">false forces the portable code paths (tests compare both).</param>
    internal LogMelExtractor(bool useIntrinsics)
    {
        _transposeWithAvx = useIntrinsics && Avx.IsSupported && Vector<float>.Count == 8;
    }

    /// <summary>Features as a new row-major [frames x 80] array; empty when the waveform is shorter than one frame.</summary>
    public float[] Compute(ReadOnlySpan<float> waveform16k, out int frames)
    {
        frames = FeatureRecipe.FrameCount(waveform16k.Length);
        var features = new float[frames * Bands];
        Compute(waveform16k, features);
        return features;
    }

    /// <summary>
    /// Writes features for <paramref name="waveform16k"/> into <paramref name="destination"/> (at least
    /// frames x 80) and returns the frame count (0 when shorter than one 1024-sample window).
    /// </summary>
    /// <exception cref="ArgumentException">The waveform holds NaN or ±Inf.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    public int Compute(ReadOnlySpan<float> waveform16k, Span<float> destination)
    {
        var frames = FeatureRecipe.FrameCount(waveform16k.Length);
        if (frames == 0) return 0;
        if (destination.Length < frames * Bands)
            throw new ArgumentException($"destination holds {destination.Length} values; {frames * Bands} needed", nameof(destination));

        var batches = (frames + Lanes - 1) / Lanes;
        // The last batch may read lanes past the final frame; they see zeros and are not written out.
        var signalLength = Math.Max(waveform16k.Length, ((batches * Lanes) - 1) * Hop + FftSize);
        if (_signal.Length * Lanes < signalLength)
            _signal = new AlignedVectors((signalLength + Lanes - 1) / Lanes);
        var signal = MemoryMarshal.Cast<Vector<float>, float>(_signal.Span)[..signalLength];
        ScaleAndPreEmphasise(waveform16k, signal);
        signal[waveform16k.Length..].Clear();

        for (var batch = 0; batch < batches; batch++)
        {
            var firstFrame = batch * Lanes;
            LoadFrames(signal, firstFrame);
            ComplexFft();
            PowerSpectrum();
            MelLogDecibels();
            StoreFrames(destination, firstFrame, Math.Min(Lanes, frames - firstFrame));
        }
        return frames;
    }

    /// <summary>Steps 4–5: x / max(std(x, unbiased), 1e-9), then y[0] = x[0], y[n] = x[n] - 0.97·x[n-1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private static void ScaleAndPreEmphasise(ReadOnlySpan<float> x, Span<float> y)
    {
        var std = Math.Max(StandardDeviation(x), FeatureRecipe.StdFloor);
        // torch divides by the std; multiplying by the reciprocal moves a sample by at most one ulp (~1e-6 dB).
        var scale = (float)(1.0 / std);
        const float coefficient = (float)FeatureRecipe.PreEmphasis;
        var lanes = Vector<float>.Count;

        y[0] = x[0] * scale;
        var i = 1;
        for (; i <= x.Length - lanes; i += lanes)
        {
            var current = new Vector<float>(x[i..]) * scale;
            var previous = new Vector<float>(x[(i - 1)..]) * scale;
            (current - previous * coefficient).CopyTo(y[i..]);
        }
        for (; i < x.Length; i++)
            y[i] = x[i] * scale - coefficient * (x[i - 1] * scale);
    }

    /// <summary>Unbiased standard deviation, two-pass in double (as torch does for float input).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    internal static double StandardDeviation(ReadOnlySpan<float> x)
    {
        var lanes = Vector<float>.Count;
        var i = 0;
        Vector<double> s0 = Vector<double>.Zero, s1 = s0, s2 = s0, s3 = s0;
        for (; i <= x.Length - 2 * lanes; i += 2 * lanes)
        {
            Vector.Widen(new Vector<float>(x[i..]), out var a, out var b);
            Vector.Widen(new Vector<float>(x[(i + lanes)..]), out var c, out var d);
            s0 += a; s1 += b; s2 += c; s3 += d;
        }
        var sum = Vector.Sum((s0 + s1) + (s2 + s3));
        for (; i < x.Length; i++)
            sum += x[i];
        if (!double.IsFinite(sum))
            throw new ArgumentException("waveform contains non-finite samples (NaN/Inf)");
        var mean = sum / x.Length;

        var meanVector = new Vector<double>(mean);
        s0 = s1 = s2 = s3 = Vector<double>.Zero;
        for (i = 0; i <= x.Length - 2 * lanes; i += 2 * lanes)
        {
            Vector.Widen(new Vector<float>(x[i..]), out var a, out var b);
            Vector.Widen(new Vector<float>(x[(i + lanes)..]), out var c, out var d);
            a -= meanVector; b -= meanVector; c -= meanVector; d -= meanVector;
            s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
        }
        var squares = Vector.Sum((s0 + s1) + (s2 + s3));
        for (; i < x.Length; i++)
        {
            var d = x[i] - mean;
            squares += d * d;
        }
        if (!double.IsFinite(squares))
            throw new ArgumentException("waveform contains non-finite samples (NaN/Inf)");
        return x.Length > 1 ? Math.Sqrt(squares / (x.Length - 1)) : 0.0;
    }

    /// <summary>
    /// Windows frame firstFrame+lane into SIMD lane `lane`, packing even samples as real and odd samples as
    /// imaginary parts, already in bit-reversed order for the decimation-in-time FFT.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private void LoadFrames(ReadOnlySpan<float> signal, int firstFrame)
    {
        if (_transposeWithAvx)
        {
            LoadFramesAvx(signal, firstFrame);
            return;
        }
        var re = MemoryMarshal.Cast<Vector<float>, float>(_re.Span);
        var im = MemoryMarshal.Cast<Vector<float>, float>(_im.Span);
        var window = FftTables.Window;
        var bitReverse = FftTables.BitReverse;
        var lanes = Lanes;
        for (var lane = 0; lane < lanes; lane++)
        {
            var frame = signal.Slice((firstFrame + lane) * Hop, FftSize);
            for (var n = 0; n < HalfSize; n++)
            {
                var target = bitReverse[n] * lanes + lane;
                re[target] = frame[2 * n] * window[2 * n];
                im[target] = frame[2 * n + 1] * window[2 * n + 1];
            }
        }
    }

    /// <summary>
    /// <see cref="LoadFrames"/> for 8 lanes: 8x8 blocks (8 frames x 8 consecutive samples) are transposed
    /// in registers, so each resulting vector holds one sample position across the 8 frames.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private void LoadFramesAvx(ReadOnlySpan<float> signal, int firstFrame)
    {
        var frames = signal.Slice(firstFrame * Hop, 7 * Hop + FftSize);
        ref var source = ref MemoryMarshal.GetReference(frames);
        ref var window = ref MemoryMarshal.GetArrayDataReference(FftTables.Window);
        ref var bitReverse = ref MemoryMarshal.GetArrayDataReference(FftTables.BitReverse);
        ref var re = ref Unsafe.As<Vector<float>, Vector256<float>>(ref _re.First);
        ref var im = ref Unsafe.As<Vector<float>, Vector256<float>>(ref _im.First);
        for (var sample = 0; sample < FftSize; sample += 8)
        {
            var r0 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 0 * Hop));
            var r1 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 1 * Hop));
            var r2 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 2 * Hop));
            var r3 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 3 * Hop));
            var r4 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 4 * Hop));
            var r5 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 5 * Hop));
            var r6 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 6 * Hop));
            var r7 = Vector256.LoadUnsafe(ref source, (nuint)(sample + 7 * Hop));

            var t0 = Avx.UnpackLow(r0, r1);
            var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3);
            var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5);
            var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7);
            var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44);
            var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44);
            var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44);
            var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44);
            var u7 = Avx.Shuffle(t5, t7, 0xEE);

            // Column c holds sample `sample + c` of the 8 frames; even samples are real parts, odd imaginary.
            var pair = sample / 2;
            ref var w = ref Unsafe.Add(ref window, sample);
            ref var target0 = ref Unsafe.Add(ref bitReverse, pair);
            Unsafe.Add(ref re, target0) = Avx.Permute2x128(u0, u4, 0x20) * Unsafe.Add(ref w, 0);
            Unsafe.Add(ref im, target0) = Avx.Permute2x128(u1, u5, 0x20) * Unsafe.Add(ref w, 1);
            Unsafe.Add(ref re, Unsafe.Add(ref target0, 1)) = Avx.Permute2x128(u2, u6, 0x20) * Unsafe.Add(ref w, 2);
            Unsafe.Add(ref im, Unsafe.Add(ref target0, 1)) = Avx.Permute2x128(u3, u7, 0x20) * Unsafe.Add(ref w, 3);
            Unsafe.Add(ref re, Unsafe.Add(ref target0, 2)) = Avx.Permute2x128(u0, u4, 0x31) * Unsafe.Add(ref w, 4);
            Unsafe.Add(ref im, Unsafe.Add(ref target0, 2)) = Avx.Permute2x128(u1, u5, 0x31) * Unsafe.Add(ref w, 5);
            Unsafe.Add(ref re, Unsafe.Add(ref target0, 3)) = Avx.Permute2x128(u2, u6, 0x31) * Unsafe.Add(ref w, 6);
            Unsafe.Add(ref im, Unsafe.Add(ref target0, 3)) = Avx.Permute2x128(u3, u7, 0x31) * Unsafe.Add(ref w, 7);
        }
    }

    /// <summary>In-place decimation-in-time FFT of 512 points per lane (input bit-reversed, output in order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private void ComplexFft()
    {
        ref var re = ref _re.First;
        ref var im = ref _im.First;

        // Stages of length 2 and 4 together: their twiddles are 1 and -i, so no multiplications.
        for (var s = 0; s < HalfSize; s += 4)
        {
            ref var r0 = ref Unsafe.Add(ref re, s);
            ref var i0 = ref Unsafe.Add(ref im, s);
            var a0r = r0 + Unsafe.Add(ref r0, 1);
            var a0i = i0 + Unsafe.Add(ref i0, 1);
            var a1r = r0 - Unsafe.Add(ref r0, 1);
            var a1i = i0 - Unsafe.Add(ref i0, 1);
            var a2r = Unsafe.Add(ref r0, 2) + Unsafe.Add(ref r0, 3);
            var a2i = Unsafe.Add(ref i0, 2) + Unsafe.Add(ref i0, 3);
            var a3r = Unsafe.Add(ref r0, 2) - Unsafe.Add(ref r0, 3);
            var a3i = Unsafe.Add(ref i0, 2) - Unsafe.Add(ref i0, 3);
            r0 = a0r + a2r;
            i0 = a0i + a2i;
            Unsafe.Add(ref r0, 2) = a0r - a2r;
            Unsafe.Add(ref i0, 2) = a0i - a2i;
            // a1 + (-i)·a3 and a1 - (-i)·a3
            Unsafe.Add(ref r0, 1) = a1r + a3i;
            Unsafe.Add(ref i0, 1) = a1i - a3r;
            Unsafe.Add(ref r0, 3) = a1r - a3i;
            Unsafe.Add(ref i0, 3) = a1i + a3r;
        }

        // Then pairs of radix-2 stages (half-lengths h and 2h) per pass, halving the passes over memory.
        ref var twiddleRe = ref MemoryMarshal.GetArrayDataReference(FftTables.TwiddleRe);
        ref var twiddleIm = ref MemoryMarshal.GetArrayDataReference(FftTables.TwiddleIm);
        var half = 4;
        for (; 4 * half <= HalfSize; half *= 4)
        {
            for (var start = 0; start < HalfSize; start += 4 * half)
            {
                for (var j = 0; j < half; j++)
                {
                    // First stage: twiddle e^{-iπj/h} on both pairs (a,b) and (c,d).
                    var w1r = new Vector<float>(Unsafe.Add(ref twiddleRe, half + j));
                    var w1i = new Vector<float>(Unsafe.Add(ref twiddleIm, half + j));
                    // Second stage: e^{-iπj/2h} on (a,c) and e^{-iπ(j+h)/2h} = -i·e^{-iπj/2h} on (b,d).
                    var w2r = new Vector<float>(Unsafe.Add(ref twiddleRe, 2 * half + j));
                    var w2i = new Vector<float>(Unsafe.Add(ref twiddleIm, 2 * half + j));

                    ref var ar = ref Unsafe.Add(ref re, start + j);
                    ref var ai = ref Unsafe.Add(ref im, start + j);
                    ref var br = ref Unsafe.Add(ref ar, half);
                    ref var bi = ref Unsafe.Add(ref ai, half);
                    ref var cr = ref Unsafe.Add(ref ar, 2 * half);
                    ref var ci = ref Unsafe.Add(ref ai, 2 * half);
                    ref var dr = ref Unsafe.Add(ref ar, 3 * half);
                    ref var di = ref Unsafe.Add(ref ai, 3 * half);

                    var tr = br * w1r - bi * w1i;

                    var ti = br * w1i + bi * w1r;
                    var a1r = ar + tr;
                    var a1i = ai + ti;
                    var b1r = ar - tr;
                    var b1i = ai - ti;
                    tr = dr * w1r - di * w1i;
                    ti = dr * w1i + di * w1r;
                    var c1r = cr + tr;
                    var c1i = ci + ti;
                    var d1r = cr - tr;
                    var d1i = ci - ti;

                    tr = c1r * w2r - c1i * w2i;

                    ti = c1r * w2i + c1i * w2r;
                    ar = a1r + tr;
                    ai = a1i + ti;
                    cr = a1r - tr;
                    ci = a1i - ti;
                    // d1·(-i·w2) = -i·(d1·w2): (x + iy)·(-i) = y - ix
                    tr = d1r * w2r - d1i * w2i;
                    ti = d1r * w2i + d1i * w2r;
                    br = b1r + ti;
                    bi = b1i - tr;
                    dr = b1r - ti;
                    di = b1i + tr;
                }
            }
        }
        for (; half < HalfSize; half *= 2)
        {
            for (var start = 0; start < HalfSize; start += 2 * half)
            {
                for (var j = 0; j < half; j++)
                {
                    var wr = new Vector<float>(Unsafe.Add(ref twiddleRe, half + j));
                    var wi = new Vector<float>(Unsafe.Add(ref twiddleIm, half + j));
                    ref var ar = ref Unsafe.Add(ref re, start + j);
                    ref var ai = ref Unsafe.Add(ref im, start + j);
                    ref var br = ref Unsafe.Add(ref ar, half);
                    ref var bi = ref Unsafe.Add(ref ai, half);
                    var tr = br * wr - bi * wi;
                    var ti = br * wi + bi * wr;
                    br = ar - tr;
                    bi = ai - ti;
                    ar += tr;
                    ai += ti;
                }
            }
        }
    }

    /// <summary>
    /// Splits the packed complex FFT Z into the real FFT X of the 1024 samples and stores |X[k]|² (times 4;
    /// the mel weights carry the 1/4): X[k] = E[k] + e^{-2πik/1024}·O[k] with E = (Z[k] + conj Z[512-k]) / 2 and
    /// O = (Z[k] - conj Z[512-k]) / 2i. Bins k and 512-k share their sums, so they are formed together.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private void PowerSpectrum()
    {
        ref var re = ref _re.First;
        ref var im = ref _im.First;
        ref var power = ref _power.First;
        ref var cos = ref MemoryMarshal.GetArrayDataReference(FftTables.SplitCos);
        ref var sin = ref MemoryMarshal.GetArrayDataReference(FftTables.SplitSin);

        // k = 0 and k = 512 (Nyquist) both come from Z[0]: X = Re Z0 ± Im Z0.
        var dc = re + im;
        var nyquist = re - im;
        power = 4 * dc * dc;
        Unsafe.Add(ref power, HalfSize) = 4 * nyquist * nyquist;

        for (var k = 1; k <= HalfSize / 2; k++)
        {
            var mirror = HalfSize - k;
            var zr = Unsafe.Add(ref re, k);
            var zi = Unsafe.Add(ref im, k);
            var mr = Unsafe.Add(ref re, mirror);
            var mi = Unsafe.Add(ref im, mirror);
            var sumR = zr + mr;
            var difI = zi - mi;
            var sumI = zi + mi;
            var difR = zr - mr;
            var c = new Vector<float>(Unsafe.Add(ref cos, k));
            var s = new Vector<float>(Unsafe.Add(ref sin, k));
            // 2·X[k] = (sumR + a) + i(difI - b); 2·X[512-k] = (sumR - a) + i(-difI - b), since cos(π-θ) = -cos θ.
            var a = c * sumI - s * difR;
            var b = c * difR + s * sumI;
            var xr = sumR + a;
            var xi = difI - b;
            var mirrorR = sumR - a;
            var mirrorI = difI + b;
            Unsafe.Add(ref power, k) = xr * xr + xi * xi;
            Unsafe.Add(ref power, mirror) = mirrorR * mirrorR + mirrorI * mirrorI;
        }
    }

    /// <summary>Steps 8–9: sparse mel sums, then 10·log10(max(x, 1e-10)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private void MelLogDecibels()
    {
        var bank = FftTables.Mel;
        ref var power = ref _power.First;
        ref var mel = ref _mel.First;
        var floor = new Vector<float>((float)FeatureRecipe.PowerFloor);
        var decibelsPerNeper = new Vector<float>((float)(10.0 / Math.Log(10.0)));
        // At the floor, return exactly -100 dB (as torch's log10 does) rather than ln·(10/ln 10) one ulp off.
        var floorDecibels = new Vector<float>((float)(10.0 * Math.Log10(FeatureRecipe.PowerFloor)));
        for (var band = 0; band < Bands; band++)
        {
            var weights = bank.Weights(band);
            ref var bandPower = ref Unsafe.Add(ref power, bank.FirstBin(band));
            // Two accumulators: a single chain of dependent adds, not the arithmetic, bounded this loop.
            var even = Vector<float>.Zero;
            var odd = Vector<float>.Zero;
            var i = 0;
            for (; i + 1 < weights.Length; i += 2)
            {
                even = Vector.FusedMultiplyAdd(Unsafe.Add(ref bandPower, i), new Vector<float>(weights[i]), even);
                odd = Vector.FusedMultiplyAdd(Unsafe.Add(ref bandPower, i + 1), new Vector<float>(weights[i + 1]), odd);
            }
            if (i < weights.Length)
                even = Vector.FusedMultiplyAdd(Unsafe.Add(ref bandPower, i), new Vector<float>(weights[i]), even);
            var acc = even + odd;
            Unsafe.Add(ref mel, band) = Vector.ConditionalSelect(
                Vector.LessThanOrEqual(acc, floor), floorDecibels, Vector.Log(acc) * decibelsPerNeper);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // see "Hot" above
    private void StoreFrames(Span<float> destination, int firstFrame, int count)
    {
        var mel = MemoryMarshal.Cast<Vector<float>, float>(_mel.Span);
        var lanes = Lanes;
        for (var lane = 0; lane < count; lane++)
        {
            var row = destination.Slice((firstFrame + lane) * Bands, Bands);
            for (var band = 0; band < Bands; band++)
                row[band] = mel[band * lanes + lane];
        }
    }
}

/// <summary>
/// A fixed number of <see cref="Vector{T}"/> in a pinned array, the first one on a 64-byte boundary (the pinned
/// object heap never moves it, so the alignment holds for the object's life).
/// </summary>
internal sealed class AlignedVectors
{
    private const int LineBytes = 64;
    private readonly float[] _storage;
    private readonly int _offset; // in floats

    public AlignedVectors(int count)
    {
        Length = count;
        _storage = GC.AllocateArray<float>(count * Vector<float>.Count + LineBytes / sizeof(float), pinned: true);
        nint address;
        unsafe
        {
            address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        }
        _offset = (int)((LineBytes - address % LineBytes) % LineBytes) / sizeof(float);
    }

    public int Length { get; }

    public ref Vector<float> First =>
        ref Unsafe.As<float, Vector<float>>(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_storage), _offset));

    public Span<Vector<float>> Span => MemoryMarshal.CreateSpan(ref First, Length);
}

/// <summary>Immutable tables shared by every <see cref="LogMelExtractor"/>.</summary>
internal static class FftTables
{
    private const int FftSize = FeatureRecipe.FftSize;
    private const int HalfSize = FftSize / 2;

    /// <summary>Periodic Hann window (torch.hann_window(1024, periodic=True)).</summary>
    public static readonly float[] Window = BuildWindow();

    /// <summary>9-bit bit reversal for the 512-point complex FFT.</summary>
    public static readonly int[] BitReverse = BuildBitReverse();

    /// <summary>e^{-iπj/h} at index h + j for each stage half-length h (a power of two) and j &lt; h.</summary>
    public static readonly float[] TwiddleRe = BuildTwiddles(cosine: true);
    public static readonly float[] TwiddleIm = BuildTwiddles(cosine: false);

    /// <summary>cos and sin of 2πk/1024 for the real-FFT split step, k = 0..512.</summary>
    public static readonly float[] SplitCos = BuildSplit(cosine: true);
    public static readonly float[] SplitSin = BuildSplit(cosine: false);

    /// <summary>The recipe's mel filterbank with the split step's factor 1/4 folded in (exact: a power of two).</summary>
    public static readonly MelFilterbank Mel = MelFilterbank.Recipe.Scaled(0.25f);

    private static float[] BuildWindow()
    {
        var window = new float[FftSize];
        for (var n = 0; n < FftSize; n++)
            window[n] = (float)(0.5 - 0.5 * Math.Cos(2 * Math.PI * n / FftSize));
        return window;
    }

    private static int[] BuildBitReverse()
    {
        var bits = BitOperations.Log2(HalfSize);
        var table = new int[HalfSize];
        for (var n = 0; n < HalfSize; n++)
        {
            var reversed = 0;
            for (var b = 0; b < bits; b++)
                reversed |= ((n >> b) & 1) << (bits - 1 - b);
            table[n] = reversed;
        }
        return table;
    }

    private static float[] BuildTwiddles(bool cosine)
    {
        var table = new float[HalfSize];
        for (var half = 1; half < HalfSize; half *= 2)
            for (var j = 0; j < half; j++)
            {
                var angle = -Math.PI * j / half;
                table[half + j] = (float)(cosine ? Math.Cos(angle) : Math.Sin(angle));
            }
        return table;
    }

    private static float[] BuildSplit(bool cosine)
    {
        var table = new float[HalfSize + 1];
        for (var k = 0; k <= HalfSize; k++)
        {
            var angle = 2 * Math.PI * k / FftSize;
            table[k] = (float)(cosine ? Math.Cos(angle) : Math.Sin(angle));
        }
        return table;
    }
}
