using System.Numerics;

namespace CremaD.Audio;

/// <summary>Log-mel features of one clip.</summary>
/// <param name="Data">Row-major [Frames x 80] log-mel values in dB.</param>
/// <param name="Frames">Number of 16 ms frames.</param>
/// <param name="DurationSeconds">Duration of the decoded source audio.</param>
/// <param name="SourceSampleRate">The file's sample rate before resampling to 16 kHz.</param>
/// <param name="Warnings">Anomalies tolerated on the way (truncated data chunk, digital silence, ...).</param>
public sealed record ClipFeatures(float[] Data, int Frames, double DurationSeconds, int SourceSampleRate, IReadOnlyList<string> Warnings);

/// <summary>
/// WAV file or bytes -> mono -> 16 kHz -> log-mel, the whole feature recipe for one clip, with the
/// clip-level judgements a decoder cannot make: too short for one analysis frame (rejected) and digital
/// silence (features at the dB floor, with a warning).
/// Not thread-safe: it reuses its file, sample and FFT buffers between clips. Use one per worker thread.
/// </summary>
public sealed class ClipFeatureExtractor
{
    /// <summary>The longest clip taken, in seconds (a longer one is rejected with the reason, like any bad file).</summary>
    public const int MaxSeconds = 600;

    private readonly LogMelExtractor _logMel = new();
    private byte[] _fileBuffer = [];
    private float[] _decoded = [];
    private float[] _resampled = [];

    public ClipFeatures FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength)
            throw new AudioFormatException(path, $"file too large ({length:N0} bytes)");
        if (_fileBuffer.Length < length)
            _fileBuffer = GC.AllocateUninitializedArray<byte>((int)length);
        var bytes = _fileBuffer.AsSpan(0, (int)length);
        WavReader.ReadExactly(handle, bytes, path);
        return FromBytes(bytes, path);
    }

    public ClipFeatures FromBytes(ReadOnlySpan<byte> data, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        var warnings = new List<string>();
        var layout = WavReader.Parse(data, sourceName, warnings);
        // Before anything is allocated for it: a CREMA-D utterance lasts seconds; hours of audio in one file is a
        // mistake or an attack, and would hold gigabytes of samples and features.
        var seconds = (double)layout.FrameCount / layout.SampleRate;
        if (seconds > MaxSeconds)
        {
            throw new AudioFormatException(sourceName, $"too long: {seconds:N0} s of audio, at most {MaxSeconds} s per clip");
        }
        var decoded = Rent(ref _decoded, layout.FrameCount);
        WavReader.DecodeMono(data, layout, decoded, sourceName, warnings);

        var waveform = decoded;
        if (layout.SampleRate != FeatureRecipe.SampleRate)
        {
            try
            {
                waveform = Rent(ref _resampled, Resampler.OutputLength(decoded.Length, layout.SampleRate, FeatureRecipe.SampleRate));
                Resampler.Resample(decoded, layout.SampleRate, FeatureRecipe.SampleRate, waveform);
            }
            catch (Exception e) when (e is ArgumentException or OverflowException or OutOfMemoryException)
            {
                // A rate the resampler cannot take is this clip's problem: rejected with the reason, its shard goes on.
                throw new AudioFormatException(sourceName, $"cannot resample {layout.SampleRate} Hz to {FeatureRecipe.SampleRate} Hz: {e.Message}");
            }
        }

        if (waveform.Length < FeatureRecipe.WindowLength)
        {
            var origin = layout.SampleRate == FeatureRecipe.SampleRate ? "" : $" resampled from {decoded.Length} at {layout.SampleRate} Hz";
            throw new AudioFormatException(sourceName,
                $"too short for one frame ({waveform.Length} samples at 16 kHz{origin}; need {FeatureRecipe.WindowLength})");
        }

        var frames = FeatureRecipe.FrameCount(waveform.Length);
        var features = new float[frames * FeatureRecipe.MelBands];
        var peak = PeakAbs(decoded);
        if (peak <= FeatureRecipe.DigitalSilencePeak)
        {
            // Dividing by the std would blow dither up to full-scale noise; silence gets the floor instead.
            var peakDbfs = peak > 0 ? 20 * Math.Log10(peak) : double.NegativeInfinity;
            warnings.Add($"digital silence (peak {(peak > 0 ? $"{peakDbfs:0.0} dBFS" : "0")}); features set to the {10 * Math.Log10(FeatureRecipe.PowerFloor):0} dB floor");
            features.AsSpan().Fill((float)(10 * Math.Log10(FeatureRecipe.PowerFloor)));
        }
        else
        {
            _logMel.Compute(waveform, features);
        }
        return new ClipFeatures(features, frames, layout.FrameCount / (double)layout.SampleRate, layout.SampleRate, warnings);
    }

    private static Span<float> Rent(ref float[] buffer, int length)
    {
        if (buffer.Length < length)
            buffer = GC.AllocateUninitializedArray<float>((int)Math.Max(length, Math.Min(Array.MaxLength, 2L * buffer.Length)));
        return buffer.AsSpan(0, length);
    }

    private static float PeakAbs(ReadOnlySpan<float> samples)
    {
        var lanes = Vector<float>.Count;
        var peakVector = Vector<float>.Zero;
        var i = 0;
        for (; i <= samples.Length - lanes; i += lanes)
            peakVector = Vector.Max(peakVector, Vector.Abs(new Vector<float>(samples[i..])));
        var peak = 0f;
        for (var lane = 0; lane < lanes; lane++)
            peak = Math.Max(peak, peakVector[lane]);
        for (; i < samples.Length; i++)
            peak = Math.Max(peak, Math.Abs(samples[i]));
        return peak;
    }
}
