namespace CremaD.Audio;

/// <summary>
/// Triangular mel filters on the HTK scale with Slaney area normalisation — torchaudio's
/// <c>melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm="slaney", mel_scale="htk")</c> —
/// stored sparsely: each filter keeps only its non-zero bins.
/// </summary>
public sealed class MelFilterbank
{
    private readonly int[] _firstBin;
    private readonly int[] _binCount;
    private readonly int[] _weightOffset;
    private readonly float[] _weights;

    /// <summary>The recipe's filterbank: 80 filters, 20–8000 Hz, over the 513 bins of a 1024-point FFT at 16 kHz.</summary>
    public static MelFilterbank Recipe { get; } = new(
        FeatureRecipe.FftSize / 2 + 1, FeatureRecipe.SampleRate, FeatureRecipe.MelBands, FeatureRecipe.MinFrequency, FeatureRecipe.MaxFrequency);

    public MelFilterbank(int frequencyBins, int sampleRate, int bands, double minFrequency, double maxFrequency)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frequencyBins, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bands);
        if (!(minFrequency >= 0 && minFrequency < maxFrequency && maxFrequency <= sampleRate / 2.0))
            throw new ArgumentOutOfRangeException(nameof(maxFrequency), $"need 0 <= f_min < f_max <= {sampleRate / 2.0} Hz");
        BinCount = frequencyBins;
        BandCount = bands;

        // all_freqs = linspace(0, sample_rate // 2, n_freqs); m_pts = linspace(mel(f_min), mel(f_max), n_mels + 2)
        var binFrequencies = new double[frequencyBins];
        var nyquist = (double)(sampleRate / 2);
        for (var k = 0; k < frequencyBins; k++)
            binFrequencies[k] = nyquist * k / (frequencyBins - 1);
        var melMin = HzToMel(minFrequency);
        var melMax = HzToMel(maxFrequency);
        var edges = new double[bands + 2];
        for (var i = 0; i < edges.Length; i++)
            edges[i] = MelToHz(melMin + (melMax - melMin) * i / (bands + 1));
        BandEdges = edges;

        _firstBin = new int[bands];
        _binCount = new int[bands];
        _weightOffset = new int[bands];
        var weights = new List<float>();
        for (var band = 0; band < bands; band++)
        {
            double left = edges[band], centre = edges[band + 1], right = edges[band + 2];
            var areaNorm = 2.0 / (right - left);
            _weightOffset[band] = weights.Count;
            var first = -1;
            for (var k = 0; k < frequencyBins; k++)
            {
                var rising = (binFrequencies[k] - left) / (centre - left);
                var falling = (right - binFrequencies[k]) / (right - centre);
                var weight = Math.Max(0.0, Math.Min(rising, falling)) * areaNorm;
                if (weight <= 0)
                {
                    if (first >= 0) break; // past the filter's right edge
                    continue;
                }
                if (first < 0) first = k;
                weights.Add((float)weight);
            }
            _firstBin[band] = Math.Max(first, 0);
            _binCount[band] = weights.Count - _weightOffset[band];
        }
        _weights = [.. weights];
    }

    /// <summary>A copy with every weight multiplied by <paramref name="factor"/>.</summary>
    internal MelFilterbank Scaled(float factor) => new(this, factor);

    private MelFilterbank(MelFilterbank source, float factor)
    {
        BinCount = source.BinCount;
        BandCount = source.BandCount;
        BandEdges = source.BandEdges;
        _firstBin = source._firstBin;
        _binCount = source._binCount;
        _weightOffset = source._weightOffset;
        _weights = Array.ConvertAll(source._weights, w => w * factor);
    }

    public int BinCount { get; }
    public int BandCount { get; }

    /// <summary>The n_mels + 2 filter edge frequencies in Hz (band b spans edges[b]..edges[b+2], peaking at edges[b+1]).</summary>
    public IReadOnlyList<double> BandEdges { get; }

    /// <summary>First FFT bin with a non-zero weight in <paramref name="band"/>.</summary>
    public int FirstBin(int band) => _firstBin[band];

    /// <summary>The non-zero weights of <paramref name="band"/>, starting at <see cref="FirstBin"/>.</summary>
    public ReadOnlySpan<float> Weights(int band) => _weights.AsSpan(_weightOffset[band], _binCount[band]);

    /// <summary>The dense [bins x bands] matrix torchaudio returns (for inspection and tests).</summary>
    public float[,] ToDense()
    {
        var dense = new float[BinCount, BandCount];
        for (var band = 0; band < BandCount; band++)
        {
            var weights = Weights(band);
            for (var i = 0; i < weights.Length; i++)
                dense[_firstBin[band] + i, band] = weights[i];
        }
        return dense;
    }

    public static double HzToMel(double hz) => 2595.0 * Math.Log10(1.0 + hz / 700.0);
    public static double MelToHz(double mel) => 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);
}
