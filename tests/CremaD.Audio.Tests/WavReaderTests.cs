using static CremaD.Audio.Tests.WavBuilder;

namespace CremaD.Audio.Tests;

public class WavReaderTests
{
    private static DecodedAudio Read(byte[] file) => WavReader.Read(file, "synthetic.wav");

    private static AudioFormatException Rejected(byte[] file)
    {
        var error = Assert.Throws<AudioFormatException>(() => WavReader.Read(file, "synthetic.wav"));
        Assert.Equal("synthetic.wav", error.SourceName);
        Assert.Equal($"synthetic.wav: {error.Reason}", error.Message);
        return error;
    }

    [Fact]
    public void Unsigned8BitIsCentredOn128()
    {
        var audio = Read(Riff([Fmt(Pcm, 1, 8000, 8), Data(U8(0, 1, 127, 128, 129, 255))]));
        Assert.Equal([-1f, -127f / 128, -1f / 128, 0f, 1f / 128, 127f / 128], audio.Samples);
        Assert.Equal(AudioEncodings.PcmU8, audio.Encoding);
        Assert.Equal(8, audio.BitsPerSample);
        Assert.Equal(8000, audio.SampleRate);
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public void Signed16BitIsScaledBy2To15()
    {
        var audio = Read(Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(short.MinValue, -1, 0, 1, 12345, short.MaxValue))]));
        Assert.Equal([-1f, -1f / 32768, 0f, 1f / 32768, 12345f / 32768, 32767f / 32768], audio.Samples);
        Assert.Equal(AudioEncodings.PcmS16, audio.Encoding);
        Assert.Equal(1, audio.Channels);
    }

    [Fact]
    public void Signed16BitVectorPathMatchesScalarDefinitionOnLongInput()
    {
        // Long enough to exercise the widening SIMD loop and its scalar tail.
        var samples = Enumerable.Range(0, 1001).Select(i => (short)(i * 65 - 32768)).ToArray();
        var audio = Read(MonoS16(16000, samples));
        Assert.Equal(samples.Select(s => s / 32768f), audio.Samples);
    }

    [Fact]
    public void Signed24BitIsSignExtendedAndScaledBy2To23()
    {
        var audio = Read(Riff([Fmt(Pcm, 1, 48000, 24), Data(S24(-8388608, -1, 0, 1, 4660, 8388607))]));
        Assert.Equal([-1f, -1f / 8388608, 0f, 1f / 8388608, 4660f / 8388608, 8388607f / 8388608], audio.Samples);
        Assert.Equal(AudioEncodings.PcmS24, audio.Encoding);
    }

    [Fact]
    public void Signed32BitIsScaledBy2To31()
    {
        var audio = Read(Riff([Fmt(Pcm, 1, 16000, 32), Data(S32(int.MinValue, -65536, 0, 1 << 30, int.MaxValue))]));
        Assert.Equal([-1f, -65536f / 2147483648f, 0f, 0.5f, (float)int.MaxValue / 2147483648f], audio.Samples);
        Assert.Equal(AudioEncodings.PcmS32, audio.Encoding);
    }

    [Fact]
    public void Float32IsKeptAsStored()
    {
        var audio = Read(Riff([Fmt(IeeeFloat, 1, 44100, 32), Chunk("fact", [4, 0, 0, 0]), Data(F32(-1f, -0.25f, 0f, 1e-30f, 0.999f))]));
        Assert.Equal([-1f, -0.25f, 0f, 1e-30f, 0.999f], audio.Samples);
        Assert.Equal(AudioEncodings.Float32, audio.Encoding);
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public void Float64IsRoundedToFloat32()
    {
        var audio = Read(Riff([Fmt(IeeeFloat, 1, 16000, 64), Data(F64(-0.5, 0.1, 1.0 / 3))]));
        Assert.Equal([-0.5f, 0.1f, (float)(1.0 / 3)], audio.Samples);
        Assert.Equal(AudioEncodings.Float64, audio.Encoding);
        Assert.Equal(64, audio.BitsPerSample);
    }

    [Fact]
    public void FloatAboveFullScaleIsKeptWithAWarning()
    {
        var audio = Read(Riff([Fmt(IeeeFloat, 1, 16000, 32), Data(F32(0.5f, 1.5f, -2f))]));
        Assert.Equal([0.5f, 1.5f, -2f], audio.Samples);
        Assert.Contains(audio.Warnings, w => w.Contains("exceed full scale"));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteFloat32IsRejected(float bad)
    {
        var samples = Enumerable.Repeat(0.1f, 100).ToArray();
        samples[57] = bad;
        Assert.Equal("non-finite samples (NaN/Inf)", Rejected(Riff([Fmt(IeeeFloat, 1, 16000, 32), Data(F32(samples))])).Reason);
    }

    [Fact]
    public void NonFiniteFloat64IsRejected()
    {
        Assert.Equal("non-finite samples (NaN/Inf)", Rejected(Riff([Fmt(IeeeFloat, 2, 16000, 64), Data(F64(0.1, double.NaN))])).Reason);
        // Finite in double but beyond float32's range is no sample either.
        Assert.Equal("non-finite samples (NaN/Inf)", Rejected(Riff([Fmt(IeeeFloat, 1, 16000, 64), Data(F64(0.1, 1e300))])).Reason);
    }

    [Fact]
    public void ExtensiblePcmIsDecodedByItsSubFormat()
    {
        var audio = Read(Riff([FmtExtensible(Pcm, 1, 48000, 24, validBits: 24, channelMask: 4), Data(S24(4194304, -4194304))]));
        Assert.Equal([0.5f, -0.5f], audio.Samples);
        Assert.Equal(AudioEncodings.PcmS24, audio.Encoding);
    }

    [Fact]
    public void ExtensibleFloatIsDecodedByItsSubFormat()
    {
        var audio = Read(Riff([FmtExtensible(IeeeFloat, 2, 16000, 32, validBits: 32, channelMask: 3), Data(F32(0.25f, 0.75f, -1f, 0f))]));
        Assert.Equal([0.5f, -0.5f], audio.Samples);
        Assert.Equal(AudioEncodings.Float32, audio.Encoding);
        Assert.Equal(2, audio.Channels);
    }

    [Fact]
    public void ExtensibleWithValidBitsBelowContainerUsesTheContainerScale()
    {
        // 20 valid bits left-justified in 24: full scale is still 2^23.
        var audio = Read(Riff([FmtExtensible(Pcm, 1, 96000, 24, validBits: 20), Data(S24(0x7FFFF0, -0x800000))]));
        Assert.Equal([0x7FFFF0 / 8388608f, -1f], audio.Samples);
    }

    [Fact]
    public void ExtensibleWithAForeignSubFormatGuidIsRejected()
    {
        var file = Riff([FmtExtensible(Pcm, 1, 16000, 16, 16, guidTail: [0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x72]), Data(S16(1, 2))]);
        Assert.StartsWith("unsupported encoding: WAVE_FORMAT_EXTENSIBLE sub-format", Rejected(file).Reason);
    }

    [Fact]
    public void StereoIsMixedByMean()
    {
        var audio = Read(Riff([Fmt(Pcm, 2, 22050, 16), Data(S16(1000, 3000, -32768, 32767, 5, -5))]));
        Assert.Equal([2000f / 32768, -0.5f / 32768, 0f], audio.Samples);
        Assert.Equal(2, audio.Channels);
    }

    [Fact]
    public void SixChannelsAreMixedByMean()
    {
        var frame0 = new short[] { 600, 1200, -600, 0, 3000, 1800 };   // sum 6000
        var frame1 = new short[] { -6, -6, -6, -6, -6, -6 };
        var audio = Read(Riff([Fmt(Pcm, 6, 48000, 16), Data(S16([.. frame0, .. frame1]))]));
        Assert.Equal(2, audio.Samples.Length);
        Assert.Equal(1000f / 32768, audio.Samples[0], 7);
        Assert.Equal(-6f / 32768, audio.Samples[1], 7);
        Assert.Equal(6, audio.Channels);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(24)]
    [InlineData(32)]
    public void MultichannelIntegerMixesEveryDepth(int bits)
    {
        // Three channels holding +half, -half and +half full scale mix to +1/6.
        var half = 1 << (bits - 2);
        byte[] data = bits switch
        {
            8 => U8((byte)(128 + 64), (byte)(128 - 64), (byte)(128 + 64)),
            24 => S24(half, -half, half),
            _ => S32(half, -half, half),
        };
        var audio = Read(Riff([Fmt(Pcm, 3, 16000, bits), Data(data)]));
        Assert.Equal(0.5f / 3, Assert.Single(audio.Samples), 6);
    }

    [Fact]
    public void OddSizedChunkIsFollowedByItsPadByte()
    {
        var file = Riff([List("abcde"), Fmt(Pcm, 1, 16000, 16), Chunk("junk", [1, 2, 3]), Data(S16(7, -7))]);
        var audio = Read(file);
        Assert.Equal([7f / 32768, -7f / 32768], audio.Samples);
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public void OddSizedChunkWithoutPadByteIsToleratedWithAWarning()
    {
        var file = Riff([Chunk("LIST", [.. "INFOISFTabcde"u8.ToArray()], padOddSize: false), Fmt(Pcm, 1, 16000, 16), Data(S16(7, -7))]);
        var audio = Read(file);
        Assert.Equal([7f / 32768, -7f / 32768], audio.Samples);
        Assert.Contains(audio.Warnings, w => w.Contains("no pad byte"));
    }

    [Fact]
    public void DataBeforeFmtIsTolerated()
    {
        var audio = Read(Riff([Data(S16(100, 200, 300)), Fmt(Pcm, 1, 16000, 16)]));
        Assert.Equal([100f / 32768, 200f / 32768, 300f / 32768], audio.Samples);
    }

    [Fact]
    public void StreamedSizesMeanTheDataRunsToTheEndOfTheFile()
    {
        var file = Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(1, 2, 3, 4, 5), declaredSize: 0xFFFFFFFF)], declaredRiffSize: 0xFFFFFFFF);
        var audio = Read(file);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5 }.Select(v => v / 32768f), audio.Samples);
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public void ZeroDataSizeInAStreamedHeaderReadsToTheEndWithAWarning()
    {
        var file = Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(1, 2, 3), declaredSize: 0)], declaredRiffSize: 0);
        var audio = Read(file);
        Assert.Equal(3, audio.Samples.Length);
        Assert.Contains(audio.Warnings, w => w.Contains("size is 0"));
    }

    [Fact]
    public void TruncatedDataChunkDecodesWhatIsPresentWithAWarning()
    {
        var file = Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(1, 2, 3, 4), declaredSize: 1000)]);
        var audio = Read(file);
        Assert.Equal([1f / 32768, 2f / 32768, 3f / 32768, 4f / 32768], audio.Samples);
        Assert.Contains(audio.Warnings, w => w.StartsWith("data chunk truncated") && w.Contains("500 sample frames") && w.Contains("4 sample frames"));
    }

    [Fact]
    public void PartialTrailingSampleFrameIsDroppedWithAWarning()
    {
        var file = Riff([Fmt(Pcm, 2, 16000, 16), Data([.. S16(10, 20, 30), 0x01])]);
        var audio = Read(file);
        Assert.Equal([15f / 32768], audio.Samples);
        Assert.Contains(audio.Warnings, w => w.Contains("partial sample frame"));
    }

    [Fact]
    public void ChunksAfterTheDataAreIgnored()
    {
        var audio = Read(Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(1, 2)), List("trailer")]));
        Assert.Equal(2, audio.Samples.Length);
        Assert.Empty(audio.Warnings);
    }

    [Fact]
    public void Rf64WithDs64SizeIsDecoded()
    {
        var ds64 = new byte[28];
        BitConverter.GetBytes(100UL).CopyTo(ds64, 0);  // riff size (unused)
        BitConverter.GetBytes(6UL).CopyTo(ds64, 8);    // data size
        var file = Riff([Chunk("ds64", ds64), Fmt(Pcm, 1, 16000, 16), Data(S16(1, 2, 3, 9, 9), declaredSize: 0xFFFFFFFF)], declaredRiffSize: 0xFFFFFFFF, magic: "RF64");
        Assert.Equal([1f / 32768, 2f / 32768, 3f / 32768], Read(file).Samples);
    }

    [Fact]
    public void DurationFollowsSampleCountAndRate()
    {
        var audio = Read(MonoS16(8000, new short[4000]));
        Assert.Equal(0.5, audio.DurationSeconds, 12);
    }

    [Fact]
    public void ByteRateMismatchIsOnlyAWarning()
    {
        var audio = Read(Riff([Fmt(Pcm, 1, 16000, 16, byteRate: 12345), Data(S16(1))]));
        Assert.Single(audio.Samples);
        Assert.Contains(audio.Warnings, w => w.Contains("byte rate"));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46 })]                                     // "RIFF" and nothing else
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46, 4, 0, 0, 0, 0x41, 0x56, 0x49, 0x20 })] // RIFF AVI
    public void NonWaveInputIsRejected(byte[] file)
    {
        Assert.Equal("not a RIFF/WAVE file", Rejected(file).Reason);
    }

    [Fact]
    public void BigEndianRifxIsRejectedAsUnsupported()
    {
        Assert.Contains("RIFX", Rejected(Riff([Fmt(Pcm, 1, 16000, 16), Data(S16(1))], magic: "RIFX")).Reason);
    }

    [Fact]
    public void AbsurdHeadersAreRejectedWithTheirReason()
    {
        Assert.Equal("invalid fmt chunk: 0 channels", Rejected(Riff([Fmt(Pcm, 0, 16000, 16, blockAlign: 2), Data(S16(1))])).Reason);
        Assert.StartsWith("invalid fmt chunk: sample rate 0 Hz", Rejected(Riff([Fmt(Pcm, 1, 0, 16), Data(S16(1))])).Reason);
        Assert.StartsWith("invalid fmt chunk: sample rate 5000000 Hz", Rejected(Riff([Fmt(Pcm, 1, 5_000_000, 16), Data(S16(1))])).Reason);
        Assert.Equal("invalid fmt chunk: block align 3 does not match 1 channel(s) x 16 bits (expected 2)",
            Rejected(Riff([Fmt(Pcm, 1, 16000, 16, blockAlign: 3), Data(S16(1, 2, 3))])).Reason);
    }

    [Theory]
    [InlineData(Pcm, 12, "unsupported encoding: 12-bit integer PCM")]
    [InlineData(Pcm, 0, "unsupported encoding: 0-bit integer PCM")]
    [InlineData(IeeeFloat, 16, "unsupported encoding: 16-bit IEEE float")]
    [InlineData((ushort)6, 8, "unsupported encoding: format tag 6 (A-law)")]
    [InlineData((ushort)0x55, 16, "unsupported encoding: format tag 85 (MPEG Layer 3)")]
    public void UnsupportedEncodingsNameWhatTheyAre(ushort tag, int bits, string reason)
    {
        Assert.Equal(reason, Rejected(Riff([Fmt(tag, 1, 16000, bits, blockAlign: 2), Data(S16(1, 2))])).Reason);
    }

    [Fact]
    public void MissingChunksAreRejected()
    {
        Assert.Equal("missing fmt chunk", Rejected(Riff([List("x"), Data(S16(1, 2))])).Reason);
        Assert.Equal("no audio samples (no data chunk)", Rejected(Riff([Fmt(Pcm, 1, 16000, 16), List("x")])).Reason);
        Assert.Equal("no audio samples", Rejected(Riff([Fmt(Pcm, 1, 16000, 16), Data([])])).Reason);
        Assert.StartsWith("fmt chunk too short", Rejected(Riff([Chunk("fmt ", new byte[10]), Data(S16(1))])).Reason);
        Assert.StartsWith("truncated fmt chunk", Rejected(Riff([Fmt(Pcm, 1, 16000, 16)[..20]])).Reason);
    }

    [Fact]
    public void ChunkSizesRunningPastTheEndNeverHang()
    {
        // A LIST chunk that claims 4 GB: walking must stop, not loop or overflow.
        var file = Riff([Chunk("LIST", [1, 2, 3, 4], declaredSize: 0xFFFFFFF0), Fmt(Pcm, 1, 16000, 16), Data(S16(1))]);
        Assert.Equal("missing fmt chunk", Rejected(file).Reason);
    }

    [Fact]
    public void RandomCorruptionsEitherDecodeOrThrowAudioFormatException()
    {
        var random = new Random(1234);
        var clean = Riff([List("abc"), Fmt(Pcm, 2, 16000, 16), Data(S16(WavBuilder.SineS16(400, 16000, 440, 0.5)))]);
        for (var trial = 0; trial < 2000; trial++)
        {
            var file = (byte[])clean.Clone();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
                file[random.Next(0, 80)] = (byte)random.Next(256);
            if (random.Next(4) == 0)
                file = file[..random.Next(0, file.Length)];
            try
            {
                var audio = WavReader.Read(file, "corrupt.wav");
                Assert.All(audio.Samples, s => Assert.True(float.IsFinite(s)));
                Assert.NotEmpty(audio.Samples);
            }
            catch (AudioFormatException error)
            {
                Assert.Equal("corrupt.wav", error.SourceName);
                Assert.False(string.IsNullOrWhiteSpace(error.Reason));
            }
        }
    }

    [Fact]
    public void ReadFromPathNamesTheFileInRejections()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cremad-audio-{Guid.NewGuid():N}.wav");
        File.WriteAllBytes(path, [1, 2, 3]);
        try
        {
            var error = Assert.Throws<AudioFormatException>(() => WavReader.Read(path));
            Assert.Equal(path, error.SourceName);
            Assert.StartsWith(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
