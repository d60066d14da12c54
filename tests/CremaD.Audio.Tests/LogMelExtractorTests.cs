namespace CremaD.Audio.Tests;

public class LogMelExtractorTests
{
    private static float[] Decode16k(string fixture) => WavReader.Read(Fixtures.LogMel(fixture)).Samples;

    private static float[] TestSignal(int length, int seed)
    {
        // Two tones, a chirp and noise: energy in every band, with tens of dB between bands.
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(i =>
        {
            var t = i / 16000.0;
            return (float)(0.3 * Math.Sin(2 * Math.PI * 220 * t) + 0.1 * Math.Sin(2 * Math.PI * 3150 * t)
                           + 0.05 * Math.Sin(2 * Math.PI * (500 + 3000 * t) * t) + 0.01 * (random.NextDouble() - 0.5));
        }).ToArray();
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1023, 0)]
    [InlineData(1024, 1)]
    [InlineData(1279, 1)]
    [InlineData(1280, 2)]
    [InlineData(40000, 153)]
    public void FrameCountHasNoPadding(int samples, int frames)
    {
        var features = new LogMelExtractor().Compute(TestSignal(samples, 1), out var count);
        Assert.Equal(frames, count);
        Assert.Equal(frames, FeatureRecipe.FrameCount(samples));
        Assert.Equal(frames * 80, features.Length);
    }

    [Theory]
    [InlineData(1024)]      // one frame: a batch that is almost all padding lanes
    [InlineData(3000)]
    [InlineData(6400)]      // 22 frames: several batches and a partial one
    public void MatchesADoublePrecisionDirectDft(int samples)
    {
        var waveform = TestSignal(samples, samples);
        var expected = LogMelReference.Compute(waveform, out var frames);
        var actual = new LogMelExtractor().Compute(waveform, out var actualFrames);
        Assert.Equal(frames, actualFrames);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 0.005, $"max |difference| {worst} dB");
    }

    [Fact]
    public void MatchesADoublePrecisionDirectDftOnSpeech()
    {
        var waveform = Decode16k("clip16k_mono_s16_b.wav").AsSpan(0, 1024 + 39 * 256).ToArray();
        var expected = LogMelReference.Compute(waveform, out _);
        var actual = new LogMelExtractor().Compute(waveform, out _);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 0.005, $"max |difference| {worst} dB");
    }

    [Fact]
    public void PortableAndIntrinsicPathsAgreeExactly()
    {
        var waveform = Decode16k("clip16k_mono_s16.wav");
        var fast = new LogMelExtractor(useIntrinsics: true).Compute(waveform, out _);
        var portable = new LogMelExtractor(useIntrinsics: false).Compute(waveform, out _);
        Assert.Equal(portable, fast);
    }

    [Fact]
    public void ReusingAnExtractorGivesTheSameResultAsAFreshOne()
    {
        var extractor = new LogMelExtractor();
        var longClip = TestSignal(50_000, 7);
        var shortClip = TestSignal(5_000, 8);
        extractor.Compute(longClip, out _);
        var reused = extractor.Compute(shortClip, out _);
        Assert.Equal(new LogMelExtractor().Compute(shortClip, out _), reused);
    }

    [Fact]
    public void FeaturesDoNotDependOnLevel()
    {
        // Step 4 divides by the std, so gain cancels (up to float32 rounding, largest in the quietest bands).
        var waveform = TestSignal(8000, 3);
        var quiet = waveform.Select(v => v * 0.01f).ToArray();
        var a = new LogMelExtractor().Compute(waveform, out _);
        var b = new LogMelExtractor().Compute(quiet, out _);
        var worst = a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(worst < 0.005, $"max |difference| {worst} dB");
    }

    [Theory]
    [InlineData(250.0)]
    [InlineData(1000.0)]
    [InlineData(4000.0)]
    public void ToneLandsInTheBandAroundItsFrequency(double frequency)
    {
        var tone = Enumerable.Range(0, 4096).Select(i => (float)Math.Sin(2 * Math.PI * frequency * i / 16000)).ToArray();
        var features = new LogMelExtractor().Compute(tone, out var frames);
        var edges = MelFilterbank.Recipe.BandEdges;
        for (var f = 0; f < frames; f++)
        {
            var row = features.AsSpan(f * 80, 80).ToArray();
            var loudest = Array.IndexOf(row, row.Max());
            Assert.InRange(frequency, edges[loudest], edges[loudest + 2]);
        }
    }

    [Fact]
    public void ZeroWaveformGivesTheDecibelFloor()
    {
        var features = new LogMelExtractor().Compute(new float[3000], out _);
        Assert.All(features, v => Assert.Equal(-100f, v));
    }

    [Fact]
    public void NonFiniteInputIsRejected()
    {
        var waveform = TestSignal(3000, 2);
        waveform[1500] = float.NaN;
        Assert.Throws<ArgumentException>(() => new LogMelExtractor().Compute(waveform, out _));
    }

    [Fact]
    public void DestinationMustHoldAllFrames()
    {
        Assert.Throws<ArgumentException>(() => new LogMelExtractor().Compute(TestSignal(2000, 1), new float[79]));
    }
}
