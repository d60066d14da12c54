namespace CremaD.Audio.Tests;

/// <summary>Each file in tests/fixtures/bad-audio gets the outcome its README documents.</summary>
public class BadAudioTests
{
    [Theory]
    [InlineData("empty.wav", "not a RIFF/WAVE file")]
    [InlineData("garbage.wav", "not a RIFF/WAVE file")]
    [InlineData("mp3_named_wav.wav", "not a RIFF/WAVE file")]
    [InlineData("header_only.wav", "no audio samples")]
    [InlineData("tiny.wav", "too short for one frame (480 samples at 16 kHz; need 1024)")]
    [InlineData("adpcm.wav", "unsupported encoding: format tag 2 (MS ADPCM)")]
    [InlineData("nan_float.wav", "non-finite samples (NaN/Inf)")]
    public void RejectedWithTheDocumentedReason(string file, string reason)
    {
        var path = Fixtures.BadAudio(file);
        var error = Assert.Throws<AudioFormatException>(() => new ClipFeatureExtractor().FromFile(path));
        Assert.Equal(path, error.SourceName);
        Assert.Equal(reason, error.Reason);
        Assert.Equal($"{path}: {reason}", error.Message);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal(reason, Assert.Throws<AudioFormatException>(() => new ClipFeatureExtractor().FromBytes(bytes, file)).Reason);
    }

    [Theory]
    [InlineData("empty.wav")]
    [InlineData("garbage.wav")]
    [InlineData("mp3_named_wav.wav")]
    [InlineData("header_only.wav")]
    [InlineData("adpcm.wav")]
    [InlineData("nan_float.wav")]
    public void DecoderRejectsTheSameFiles(string file)
    {
        var path = Fixtures.BadAudio(file);
        Assert.Equal(path, Assert.Throws<AudioFormatException>(() => WavReader.Read(path)).SourceName);
    }

    [Fact]
    public void TinyDecodesButIsTooShortForFeatures()
    {
        var audio = WavReader.Read(Fixtures.BadAudio("tiny.wav"));
        Assert.Equal(480, audio.Samples.Length);
        Assert.Equal(16000, audio.SampleRate);
    }

    [Fact]
    public void TruncatedDecodesTheSamplesPresentWithAWarning()
    {
        var path = Fixtures.BadAudio("truncated.wav");
        var present = (int)(new FileInfo(path).Length - 44) / 2;
        var audio = WavReader.Read(path);
        Assert.Equal(present, audio.Samples.Length);
        Assert.StartsWith("data chunk truncated", Assert.Single(audio.Warnings));
        Assert.InRange(audio.DurationSeconds, 0.5, 0.7);

        var clip = new ClipFeatureExtractor().FromFile(path);
        Assert.Equal(FeatureRecipe.FrameCount(present), clip.Frames);
        Assert.All(clip.Data, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(clip.Warnings, w => w.StartsWith("data chunk truncated"));
    }

    [Fact]
    public void SilenceGivesFiniteFeaturesAtTheFloorWithAWarning()
    {
        var clip = new ClipFeatureExtractor().FromFile(Fixtures.BadAudio("silence.wav"));
        Assert.Equal(FeatureRecipe.FrameCount(24_000), clip.Frames);
        Assert.Equal(1.5, clip.DurationSeconds, 9);
        Assert.All(clip.Data, v => Assert.Equal(-100f, v));
        Assert.Contains(clip.Warnings, w => w.StartsWith("digital silence"));
    }

    [Theory]
    [InlineData("odd_chunks_valid.wav")]
    [InlineData("streamed_size_valid.wav")]
    public void ValidOdditiesDecodeExactly24000Samples(string file)
    {
        var audio = WavReader.Read(Fixtures.BadAudio(file));
        Assert.Equal(24_000, audio.Samples.Length);
        Assert.Equal(16000, audio.SampleRate);
        Assert.Empty(audio.Warnings);

        var clip = new ClipFeatureExtractor().FromFile(Fixtures.BadAudio(file));
        Assert.Equal(FeatureRecipe.FrameCount(24_000), clip.Frames);
        Assert.Empty(clip.Warnings);
        Assert.All(clip.Data, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void OddChunksAndStreamedSizeHoldTheSameSamples()
    {
        Assert.Equal(WavReader.Read(Fixtures.BadAudio("odd_chunks_valid.wav")).Samples,
                     WavReader.Read(Fixtures.BadAudio("streamed_size_valid.wav")).Samples);
    }

    [Fact]
    public void EveryBadAudioFileHasAnOutcomeHere()
    {
        var covered = new[]
        {
            "empty.wav", "garbage.wav", "mp3_named_wav.wav", "header_only.wav", "tiny.wav", "adpcm.wav", "nan_float.wav",
            "truncated.wav", "silence.wav", "odd_chunks_valid.wav", "streamed_size_valid.wav",
        };
        Assert.Equal(covered.Order(), Directory.GetFiles(Fixtures.BadAudioDirectory, "*.wav").Select(Path.GetFileName).Order());
    }
}
