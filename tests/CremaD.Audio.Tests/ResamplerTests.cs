namespace CremaD.Audio.Tests;

public class ResamplerTests
{
    [Theory]
    [InlineData(8000, 16000, 12000, 24000)]
    [InlineData(22050, 16000, 26460, 19200)]
    [InlineData(44100, 16000, 44101, 16001)]    // ceil(16000·44101/44100)
    [InlineData(48000, 16000, 1, 1)]
    [InlineData(48000, 16000, 4, 2)]
    [InlineData(11025, 16000, 7, 11)]
    [InlineData(16000, 16000, 1234, 1234)]
    public void OutputLengthIsTheCeilingOfTheRateRatio(int from, int to, int inputLength, int expected)
    {
        Assert.Equal(expected, Resampler.OutputLength(inputLength, from, to));
        Assert.Equal(expected, Resampler.Resample(new float[inputLength], from, to).Length);
    }

    [Fact]
    public void Kernels_for_many_odd_rates_are_not_all_kept_and_still_resample_the_same()
    {
        var input = Enumerable.Range(0, 4000).Select(i => MathF.Sin(i * 0.01f)).ToArray();
        var first = Resampler.Resample(input, 44_101, 16_000);

        for (var rate = 20_011; rate < 20_011 + 3 * Resampler.MaxCachedKernels; rate += 2) Resampler.Resample(input, rate, 16_000);

        Assert.True(Resampler.CachedKernelCount <= Resampler.MaxCachedKernels, $"{Resampler.CachedKernelCount} kernels cached");
        // A kernel built for one clip and dropped resamples as a cached one does.
        Assert.Equal(first, Resampler.Resample(input, 44_101, 16_000));
        Assert.Equal(Resampler.Resample(input, 20_013, 16_000), Resampler.Resample(input, 20_013, 16_000));
    }

    [Fact]
    public void Threads_resampling_new_rates_at_once_never_cache_more_kernels_than_the_bound()
    {
        // From an empty cache, eight threads ask for 32 new rate pairs at once: more than fit, all racing to add theirs.
        Resampler.ClearCachedKernels();
        var input = Enumerable.Range(0, 2000).Select(i => MathF.Sin(i * 0.02f)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                for (var i = 0; i < 4; i++)
                {
                    Resampler.Resample(input, 30_011 + 2 * (t + 8 * i), 16_000);
                    if (Resampler.CachedKernelCount > Resampler.MaxCachedKernels) failures.Enqueue($"{Resampler.CachedKernelCount} kernels cached");
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e.ToString()); // an exception escaping a thread would end the test host
            }
        })).ToList();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        Assert.Empty(failures);
        Assert.Equal(Resampler.MaxCachedKernels, Resampler.CachedKernelCount);
    }

    [Fact]
    public void EqualRatesCopyTheInput()
    {
        var input = Enumerable.Range(0, 100).Select(i => MathF.Sin(i)).ToArray();
        Assert.Equal(input, Resampler.Resample(input, 22050, 22050));
    }

    [Theory]
    [InlineData(0, 16000)]
    [InlineData(16000, -1)]
    public void NonPositiveRatesAreRejected(int from, int to)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Resampler.Resample(new float[10], from, to));
    }

    /// <summary>
    /// The sparse kernel must reproduce the dense computation torchaudio 0.13 does: pad, strided conv1d with
    /// the [new x (2·width+orig)] kernel, interleave, truncate. torchaudio builds that kernel in float32,
    /// whose rounding of t = base·(k/orig - j/new) moves taps by ~1e-5; we reproduce it, so the comparison
    /// with a float32-built dense kernel is tight and the one with the exact (double) kernel is looser.
    /// </summary>
    [Theory]
    [InlineData(8000, 16000)]
    [InlineData(22050, 16000)]
    [InlineData(44100, 16000)]
    [InlineData(48000, 16000)]
    [InlineData(16000, 44100)]
    [InlineData(12000, 16000)]
    public void MatchesTheDenseTorchaudioFormulation(int from, int to)
    {
        var random = new Random(from ^ to);
        var input = Enumerable.Range(0, 3001).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var actual = Resampler.Resample(input, from, to);

        var torchKernel = DenseTorchaudioResample(input, from, to, float32Kernel: true);
        Assert.Equal(torchKernel.Length, actual.Length);
        var worst = torchKernel.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst < 1e-6, $"max difference from torchaudio's float32 kernel {worst}");

        var exactKernel = DenseTorchaudioResample(input, from, to, float32Kernel: false);
        worst = exactKernel.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst < 1e-4, $"max difference from the exact kernel {worst}");
    }

    [Theory]
    [InlineData(44100, 1000.0)]
    [InlineData(48000, 3000.0)]
    [InlineData(22050, 5000.0)]
    [InlineData(8000, 440.0)]
    public void SineBelowCutoffKeepsItsAmplitudeAndFrequency(int from, double frequency)
    {
        const double amplitude = 0.5;
        var input = Enumerable.Range(0, from).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * frequency * i / from))).ToArray();
        var output = Resampler.Resample(input, from, 16000);
        Assert.Equal(16000, output.Length);
        // Away from the edges (where the kernel meets the zero padding) the output is the same sine at 16 kHz.
        var worst = 0.0;
        for (var n = 200; n < 15800; n++)
            worst = Math.Max(worst, Math.Abs(output[n] - amplitude * Math.Sin(2 * Math.PI * frequency * n / 16000)));
        Assert.True(worst < 0.01 * amplitude, $"max deviation {worst}");
    }

    [Fact]
    public void ContentAboveTheNewNyquistIsRemoved()
    {
        var input = Enumerable.Range(0, 48000).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * 11000 * i / 48000))).ToArray();
        var output = Resampler.Resample(input, 48000, 16000);
        // 11 kHz would alias to 5 kHz; the 6-zero-crossing Hann sinc attenuates it by more than 40 dB.
        var rms = Math.Sqrt(output.Skip(200).Take(15600).Average(x => (double)x * x));
        Assert.True(rms < 0.01 * 0.5 / Math.Sqrt(2), $"alias rms {rms}");
    }

    [Fact]
    public void ConcurrentCallsAgreeWithASequentialOne()
    {
        var input = Enumerable.Range(0, 20000).Select(i => MathF.Sin(i * 0.01f)).ToArray();
        var rates = new[] { 8000, 11025, 22050, 24000, 32000, 44100, 48000, 96000 };
        var sequential = rates.Select(r => Resampler.Resample(input, r, 16000)).ToArray();
        var parallel = new float[rates.Length][];
        Parallel.For(0, rates.Length * 4, i => parallel[i % rates.Length] = Resampler.Resample(input, rates[i % rates.Length], 16000));
        for (var r = 0; r < rates.Length; r++)
            Assert.Equal(sequential[r], parallel[r]);
    }

    [Fact]
    public void DestinationMustBeLargeEnough()
    {
        Assert.Throws<ArgumentException>(() => Resampler.Resample(new float[100], 8000, 16000, new float[199]));
    }

    internal static double[] DenseTorchaudioResample(float[] waveform, int origFreq, int newFreq, bool float32Kernel)
    {
        var gcd = (int)System.Numerics.BigInteger.GreatestCommonDivisor(origFreq, newFreq);
        var orig = origFreq / gcd;
        var @new = newFreq / gcd;
        var baseFreq = Math.Min(orig, @new) * 0.99;
        const double lowpassFilterWidth = 6;
        var width = (int)Math.Ceiling(lowpassFilterWidth * orig / baseFreq);
        var kernelLength = 2 * width + orig;
        var kernel = new double[@new, kernelLength];
        for (var j = 0; j < @new; j++)
        {
            for (var k = 0; k < kernelLength; k++)
            {
                if (float32Kernel)
                {
                    // torch: t = arange(0, -new, -1)/new + arange(-width, width + orig)/orig, all float32.
                    var t = (float)-j / @new + (float)(k - width) / orig;
                    t *= (float)baseFreq;
                    t = Math.Clamp(t, -6f, 6f);
                    var window = MathF.Cos(t * MathF.PI / 6f / 2f);
                    window *= window;
                    t *= MathF.PI;
                    kernel[j, k] = (t == 0 ? 1f : MathF.Sin(t) / t) * (window * (float)(baseFreq / orig));
                }
                else
                {
                    var t = (-(double)j / @new + (double)(k - width) / orig) * baseFreq;
                    t = Math.Clamp(t, -lowpassFilterWidth, lowpassFilterWidth);
                    var window = Math.Pow(Math.Cos(t * Math.PI / lowpassFilterWidth / 2), 2);
                    t *= Math.PI;
                    kernel[j, k] = (t == 0 ? 1 : Math.Sin(t) / t) * window * (baseFreq / orig);
                }
            }
        }
        var padded = new double[width + waveform.Length + width + orig];
        for (var i = 0; i < waveform.Length; i++)
            padded[width + i] = waveform[i];
        var blocks = (padded.Length - kernelLength) / orig + 1;
        var output = new List<double>();
        for (var i = 0; i < blocks; i++)
            for (var j = 0; j < @new; j++)
            {
                var sum = 0.0;
                for (var k = 0; k < kernelLength; k++)
                    sum += padded[i * orig + k] * kernel[j, k];
                output.Add(sum);
            }
        var targetLength = (int)Math.Ceiling((double)@new * waveform.Length / orig);
        return [.. output.Take(targetLength)];
    }
}
