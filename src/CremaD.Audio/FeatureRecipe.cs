namespace CremaD.Audio;

/// <summary>
/// The one definition of the seed's log-mel recipe (see tests/fixtures/logmel/README.md).
/// Every feature store and run manifest records <see cref="Describe"/> so a run says exactly
/// which features it was trained on.
/// </summary>
public static class FeatureRecipe
{
    public const int SampleRate = 16_000;
    public const int FftSize = 1024;
    public const int WindowLength = 1024;
    public const int HopLength = 256;
    public const int MelBands = 80;
    public const double MinFrequency = 20.0;
    public const double MaxFrequency = 8_000.0;
    public const double PreEmphasis = 0.97;
    /// <summary>Power floor before 10·log10, i.e. −100 dB.</summary>
    public const double PowerFloor = 1e-10;
    /// <summary>Floor for the waveform standard deviation used to scale each clip.</summary>
    public const double StdFloor = 1e-9;
    /// <summary>torchaudio.functional.resample defaults.</summary>
    public const int ResampleLowpassFilterWidth = 6;
    public const double ResampleRolloff = 0.99;

    /// <summary>
    /// Clips whose peak |sample| is at most this (2 LSB of 16-bit audio, about -84 dBFS) are digital silence:
    /// their features are the <see cref="PowerFloor"/> dB floor rather than std-normalised dither.
    /// </summary>
    public const double DigitalSilencePeak = 1.0 / 16_384;

    /// <summary>Bump when anything above changes meaning; it keys cached features.</summary>
    public const int Version = 1;

    /// <summary>Number of frames the recipe yields for <paramref name="samples"/> samples (no padding, no centring).</summary>
    public static int FrameCount(int samples) => samples < WindowLength ? 0 : 1 + (samples - WindowLength) / HopLength;

    public static IReadOnlyDictionary<string, object> Describe() => new Dictionary<string, object>
    {
        ["version"] = Version,
        ["sample_rate"] = SampleRate,
        ["n_fft"] = FftSize,
        ["win_length"] = WindowLength,
        ["hop_length"] = HopLength,
        ["n_mels"] = MelBands,
        ["f_min"] = MinFrequency,
        ["f_max"] = MaxFrequency,
        ["window"] = "hann (periodic)",
        ["center"] = false,
        ["power"] = 2.0,
        ["mel_scale"] = "htk",
        ["norm"] = "slaney",
        ["pre_emphasis"] = PreEmphasis,
        ["waveform_scaling"] = "divide by unbiased std (floor 1e-9)",
        ["db"] = "10*log10(max(power, 1e-10))",
        ["silence"] = "peak |x| <= 2^-14 (2 LSB at 16 bits) => every value at the -100 dB floor",
        ["resample"] = "windowed sinc, hann window, lowpass_filter_width 6, rolloff 0.99 (torchaudio defaults)",
    };
}
