namespace CremaD.Audio;

/// <summary>Names of the sample encodings <see cref="WavReader"/> decodes (the values of <see cref="DecodedAudio.Encoding"/>).</summary>
public static class AudioEncodings
{
    public const string PcmU8 = "PCM_U8";
    public const string PcmS16 = "PCM_S16";
    public const string PcmS24 = "PCM_S24";
    public const string PcmS32 = "PCM_S32";
    public const string Float32 = "FLOAT32";
    public const string Float64 = "FLOAT64";
}

/// <summary>
/// A decoded clip, mixed to mono by averaging the channels.
/// </summary>
/// <param name="Samples">Mono samples; integer PCM is scaled into [-1, 1), float is kept as stored.</param>
/// <param name="SampleRate">Sample rate of <paramref name="Samples"/> in Hz (the file's rate).</param>
/// <param name="Channels">Channel count of the file before mixing.</param>
/// <param name="Encoding">One of <see cref="AudioEncodings"/>.</param>
/// <param name="BitsPerSample">Container bits per sample (8, 16, 24, 32 or 64).</param>
/// <param name="Warnings">Anomalies tolerated while decoding (truncated data chunk, ...); empty for a clean file.</param>
public sealed record DecodedAudio(
    float[] Samples,
    int SampleRate,
    int Channels,
    string Encoding,
    int BitsPerSample,
    IReadOnlyList<string> Warnings)
{
    public double DurationSeconds => Samples.Length / (double)SampleRate;
}
