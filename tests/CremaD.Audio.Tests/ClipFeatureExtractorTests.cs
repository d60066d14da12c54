using static CremaD.Audio.Tests.WavBuilder;

namespace CremaD.Audio.Tests;

public class ClipFeatureExtractorTests
{
    [Theory]
    [InlineData(WavReader.MinSampleRate)]
    [InlineData(7_919)]      // prime: no common factor with 16 kHz, the largest resampling kernel for its size
    [InlineData(44_101)]
    [InlineData(WavReader.MaxSampleRate - 1)]
    public void An_odd_sample_rate_gives_features_or_a_rejection_naming_the_clip_never_another_failure(int rate)
    {
        var file = WavBuilder.MonoS16(rate, WavBuilder.SineS16(rate / 2, rate, 220, 0.3));
        try
        {
            var features = new ClipFeatureExtractor().FromBytes(file, "odd-rate.wav");
            // Half a second at 16 kHz, whatever it came at.
            Assert.Equal(FeatureRecipe.FrameCount(Resampler.OutputLength(rate / 2, rate, FeatureRecipe.SampleRate)), features.Frames);
        }
        catch (AudioFormatException e)
        {
            Assert.Contains("odd-rate.wav", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_clip_longer_than_the_limit_is_rejected_before_it_is_decoded()
    {
        // The header is all it takes: 601 s at 1 kHz, 16-bit mono (1.2 MB of samples).
        var samples = new byte[(ClipFeatureExtractor.MaxSeconds + 1) * 1000 * 2];
        var file = WavBuilder.Riff([WavBuilder.Fmt(WavBuilder.Pcm, 1, 1000, 16), WavBuilder.Data(samples)]);

        var error = Assert.Throws<AudioFormatException>(() => new ClipFeatureExtractor().FromBytes(file, "long.wav"));

        Assert.Contains("long.wav", error.Message);
        Assert.Contains($"too long: 601 s of audio, at most {ClipFeatureExtractor.MaxSeconds} s per clip", error.Message);
    }

    [Fact]
    public void FromBytesEqualsFromFile()
    {
        var path = Fixtures.LogMel("clip22k_stereo_s16.wav");
        var fromFile = new ClipFeatureExtractor().FromFile(path);
        var fromBytes = new ClipFeatureExtractor().FromBytes(File.ReadAllBytes(path), "clip");
        Assert.Equal(fromFile.Data, fromBytes.Data);
        Assert.Equal(fromFile.Frames, fromBytes.Frames);
        Assert.Equal(22050, fromBytes.SourceSampleRate);
    }

    [Fact]
    public void SixteenKilohertzClipEqualsDecodePlusLogMel()
    {
        var path = Fixtures.LogMel("clip16k_mono_s32.wav");
        var clip = new ClipFeatureExtractor().FromFile(path);
        var audio = WavReader.Read(path);
        Assert.Equal(new LogMelExtractor().Compute(audio.Samples, out _), clip.Data);
        Assert.Equal(audio.DurationSeconds, clip.DurationSeconds);
    }

    [Fact]
    public void ResampledClipEqualsDecodeResamplePlusLogMel()
    {
        var path = Fixtures.LogMel("clip48k_mono_s24.wav");
        var audio = WavReader.Read(path);
        var resampled = Resampler.Resample(audio.Samples, audio.SampleRate, 16000);
        Assert.Equal(new LogMelExtractor().Compute(resampled, out _), new ClipFeatureExtractor().FromFile(path).Data);
    }

    [Fact]
    public void ReusedExtractorMatchesFreshOnesAcrossRatesAndLengths()
    {
        var extractor = new ClipFeatureExtractor();
        // Long, then short, then resampled: buffers sized by earlier clips must not leak into later ones.
        foreach (var wav in new[] { "clip44k_mono_f32.wav", "clip16k_mono_s16_b.wav", "clip8k_mono_u8.wav", "clip16k_mono_s16.wav" })
        {
            var path = Fixtures.LogMel(wav);
            Assert.Equal(new ClipFeatureExtractor().FromFile(path).Data, extractor.FromFile(path).Data);
        }
    }

    [Fact]
    public void TooShortAfterResamplingSaysSo()
    {
        var error = Assert.Throws<AudioFormatException>(() => new ClipFeatureExtractor().FromBytes(MonoS16(8000, SineS16(500, 8000, 300, 0.5)), "short8k.wav"));
        Assert.Equal("too short for one frame (1000 samples at 16 kHz resampled from 500 at 8000 Hz; need 1024)", error.Reason);
    }

    [Fact]
    public void ExactlyOneWindowGivesOneFrame()
    {
        var clip = new ClipFeatureExtractor().FromBytes(MonoS16(16000, SineS16(1024, 16000, 300, 0.5, seed: 1, noise: 0.01)), "one.wav");
        Assert.Equal(1, clip.Frames);
        Assert.Equal(80, clip.Data.Length);
    }

    [Fact]
    public void QuietButNotSilentAudioIsNotFlagged()
    {
        // 4 LSB of noise is above the 2-LSB digital-silence threshold: normal features, no warning.
        var random = new Random(5);
        var samples = Enumerable.Range(0, 8000).Select(_ => (short)random.Next(-4, 5)).ToArray();
        var clip = new ClipFeatureExtractor().FromBytes(MonoS16(16000, samples), "quiet.wav");
        Assert.Empty(clip.Warnings);
        Assert.All(clip.Data, v => Assert.True(float.IsFinite(v) && v > -100f));
    }

    [Fact]
    public void AllZeroAudioIsDigitalSilence()
    {
        var clip = new ClipFeatureExtractor().FromBytes(MonoS16(16000, new short[5000]), "zero.wav");
        Assert.Contains(clip.Warnings, w => w.StartsWith("digital silence"));
        Assert.All(clip.Data, v => Assert.Equal(-100f, v));
    }

    [Fact]
    public void DecoderWarningsReachTheFeatures()
    {
        var file = Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(SineS16(3000, 16000, 440, 0.3)), declaredSize: 100_000)]);
        var clip = new ClipFeatureExtractor().FromBytes(file, "cut.wav");
        Assert.Equal(FeatureRecipe.FrameCount(3000), clip.Frames);
        Assert.Contains(clip.Warnings, w => w.StartsWith("data chunk truncated"));
    }

    [Fact]
    public void MissingFileIsAnIoErrorNamingThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cremad-missing-{Guid.NewGuid():N}.wav");
        var error = Assert.Throws<FileNotFoundException>(() => new ClipFeatureExtractor().FromFile(path));
        Assert.Contains(path, error.Message);
    }
}
