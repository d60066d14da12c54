using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CremaD.Audio;

/// <summary>
/// RIFF/WAVE decoder: integer PCM (u8, s16, s24, s32), IEEE float (32, 64), WAVE_FORMAT_EXTENSIBLE, RF64,
/// any channel count (mixed to mono by averaging). Tolerates what real corpora contain: chunks in any
/// order, odd-sized chunks (with or without their pad byte), streamed headers whose sizes are 0xFFFFFFFF,
/// and truncated data chunks (decoded as far as they go, with a warning). Everything else it cannot
/// decode faithfully is rejected with an <see cref="AudioFormatException"/> naming the source and reason.
/// </summary>
public static class WavReader
{
    /// <summary>Sample rates outside this range are treated as a corrupt header rather than audio.</summary>
    public const int MinSampleRate = 1_000;
    public const int MaxSampleRate = 768_000;

    public static DecodedAudio Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Read(ReadFile(path), path);
    }

    public static DecodedAudio Read(ReadOnlySpan<byte> data, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        var warnings = new List<string>();
        var layout = Parse(data, sourceName, warnings);
        var samples = new float[layout.FrameCount];
        DecodeMono(data, layout, samples, sourceName, warnings);
        return new DecodedAudio(samples, layout.SampleRate, layout.Channels, layout.EncodingName, layout.BitsPerSample, warnings);
    }

    /// <summary>Reads a whole file, refusing files a span cannot address.</summary>
    internal static byte[] ReadFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        var length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength)
            throw new AudioFormatException(path, $"file too large ({length:N0} bytes)");
        var buffer = new byte[length];
        ReadExactly(handle, buffer, path);
        return buffer;
    }

    internal static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, string path)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var read = RandomAccess.Read(handle, buffer[done..], done);
            if (read == 0)
                throw new IOException($"{path}: file shrank while being read ({done} of {buffer.Length} bytes)");
            done += read;
        }
    }

    // ---------------------------------------------------------------- header parsing

    /// <summary>The tail (bytes 4..15) shared by every KSDATAFORMAT_SUBTYPE_* GUID derived from a format tag.</summary>
    private static ReadOnlySpan<byte> SubFormatGuidTail => [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    private const ushort FormatPcm = 0x0001;
    private const ushort FormatIeeeFloat = 0x0003;
    private const ushort FormatExtensible = 0xFFFE;
    private const uint StreamedSize = 0xFFFF_FFFF;

    internal static WavLayout Parse(ReadOnlySpan<byte> file, string source, List<string> warnings)
    {
        if (file.Length < 12 || !HasId(file, 8, "WAVE"))
            throw new AudioFormatException(source, "not a RIFF/WAVE file");
        var isRf64 = HasId(file, 0, "RF64");
        if (!isRf64 && !HasId(file, 0, "RIFF"))
        {
            if (HasId(file, 0, "RIFX"))
                throw new AudioFormatException(source, "unsupported encoding: big-endian RIFX file");
            throw new AudioFormatException(source, "not a RIFF/WAVE file");
        }

        var riffSize = ReadUInt32(file, 4);
        var riffSizeUnknown = isRf64 || riffSize == StreamedSize || riffSize == 0;
        long rf64DataSize = -1;
        FormatChunk? format = null;
        var dataOffset = -1;
        long dataPresent = 0, dataDeclared = 0;

        var position = 12;
        while (position <= file.Length - 8 && (format is null || dataOffset < 0))
        {
            var chunkId = file.Slice(position, 4);
            var size = ReadUInt32(file, position + 4);
            var body = position + 8;
            long remaining = file.Length - body;

            if (chunkId.SequenceEqual("data"u8) && dataOffset < 0)
            {
                dataOffset = body;
                var runsToEnd = true;
                if (size == StreamedSize && (!isRf64 || rf64DataSize < 0))
                {
                    // Streamed writer: it could not seek back to fill in the size, so the samples run to the end.
                    dataDeclared = dataPresent = remaining;
                }
                else if (size == 0 && riffSizeUnknown && remaining > 0)
                {
                    warnings.Add("data chunk size is 0 in a streamed header; reading samples to the end of the file");
                    dataDeclared = dataPresent = remaining;
                }
                else
                {
                    dataDeclared = size == StreamedSize ? rf64DataSize : size;
                    dataPresent = Math.Min(dataDeclared, remaining);
                    runsToEnd = dataDeclared >= remaining;
                }
                if (runsToEnd)
                    break; // nothing after the samples to walk (a fmt chunk still missing is reported below)
            }
            else if (chunkId.SequenceEqual("fmt "u8))
            {
                if (size > remaining)
                    throw new AudioFormatException(source, $"truncated fmt chunk ({remaining} of {size} bytes present)");
                if (format is null)
                    format = ParseFormat(file.Slice(body, (int)size), source, warnings);
                else
                    warnings.Add("second fmt chunk ignored");
            }
            else if (isRf64 && chunkId.SequenceEqual("ds64"u8) && size >= 16 && remaining >= 16)
            {
                rf64DataSize = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(file.Slice(body + 8, 8)), long.MaxValue);
            }
            else if (size > remaining)
            {
                break; // a chunk we do not need runs past the end; whatever we still lack is reported below
            }

            position = NextChunk(file, body, size, warnings);
        }

        if (format is null)
            throw new AudioFormatException(source, "missing fmt chunk");
        if (dataOffset < 0)
            throw new AudioFormatException(source, "no audio samples (no data chunk)");

        var fmt = format.Value;
        var frames = dataPresent / fmt.BlockAlign;
        var partialBytes = dataPresent % fmt.BlockAlign;
        if (dataPresent < dataDeclared)
        {
            warnings.Add($"data chunk truncated: declared {dataDeclared:N0} bytes ({dataDeclared / fmt.BlockAlign:N0} sample frames), " +
                         $"{dataPresent:N0} present ({frames:N0} sample frames decoded)");
        }
        else if (partialBytes != 0)
        {
            warnings.Add($"data chunk ends with a partial sample frame ({partialBytes} bytes ignored)");
        }
        if (frames == 0)
            throw new AudioFormatException(source, "no audio samples");

        return new WavLayout(fmt.Encoding, fmt.Channels, fmt.SampleRate, fmt.BitsPerSample, fmt.BlockAlign, dataOffset, (int)frames);
    }

    /// <summary>
    /// Offset of the chunk after one whose body starts at <paramref name="body"/>. RIFF pads odd-sized
    /// chunks to even length; some writers forget the pad byte, which we detect by where a plausible
    /// chunk id sits.
    /// </summary>
    private static int NextChunk(ReadOnlySpan<byte> file, int body, uint size, List<string> warnings)
    {
        long next = body + (long)size;
        if ((size & 1) != 0)
        {
            var padded = next + 1;
            if (padded <= file.Length - 4 && !IsPlausibleChunkId(file, (int)padded) && IsPlausibleChunkId(file, (int)next))
                warnings.Add($"chunk '{ChunkName(file, body - 8)}' has an odd size and no pad byte");
            else
                next = padded;
        }
        return (int)Math.Min(next, file.Length);
    }

    private readonly record struct FormatChunk(SampleEncoding Encoding, int Channels, int SampleRate, int BitsPerSample, int BlockAlign);

    private static FormatChunk ParseFormat(ReadOnlySpan<byte> fmt, string source, List<string> warnings)
    {
        if (fmt.Length < 16)
            throw new AudioFormatException(source, $"fmt chunk too short ({fmt.Length} bytes; need 16)");
        var tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        var sampleRate = ReadUInt32(fmt, 4);
        var byteRate = ReadUInt32(fmt, 8);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);

        var effectiveTag = tag;
        var container = "";
        if (tag == FormatExtensible)
        {
            if (fmt.Length < 40)
                throw new AudioFormatException(source, $"WAVE_FORMAT_EXTENSIBLE fmt chunk too short ({fmt.Length} bytes; need 40)");
            int validBits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[18..]);
            var guid = fmt.Slice(24, 16);
            if (guid[2] != 0 || guid[3] != 0 || !guid[4..].SequenceEqual(SubFormatGuidTail))
                throw new AudioFormatException(source, $"unsupported encoding: WAVE_FORMAT_EXTENSIBLE sub-format {new Guid(guid):B}");
            effectiveTag = BinaryPrimitives.ReadUInt16LittleEndian(guid);
            container = " (WAVE_FORMAT_EXTENSIBLE)";
            if (validBits > bits)
                warnings.Add($"fmt chunk claims {validBits} valid bits in a {bits}-bit container; decoding the container");
        }

        if (channels == 0)
            throw new AudioFormatException(source, "invalid fmt chunk: 0 channels");
        if (sampleRate is < MinSampleRate or > MaxSampleRate)
            throw new AudioFormatException(source, $"invalid fmt chunk: sample rate {sampleRate} Hz (supported {MinSampleRate}..{MaxSampleRate} Hz)");

        var encoding = effectiveTag switch
        {
            FormatPcm => bits switch
            {
                8 => SampleEncoding.PcmU8,
                16 => SampleEncoding.PcmS16,
                24 => SampleEncoding.PcmS24,
                32 => SampleEncoding.PcmS32,
                _ => throw new AudioFormatException(source, $"unsupported encoding: {bits}-bit integer PCM{container}"),
            },
            FormatIeeeFloat => bits switch
            {
                32 => SampleEncoding.Float32,
                64 => SampleEncoding.Float64,
                _ => throw new AudioFormatException(source, $"unsupported encoding: {bits}-bit IEEE float{container}"),
            },
            _ => throw new AudioFormatException(source, $"unsupported encoding: format tag {effectiveTag} ({FormatTagName(effectiveTag)}){container}"),
        };

        var expectedBlockAlign = channels * (bits / 8);
        if (blockAlign != expectedBlockAlign)
            throw new AudioFormatException(source,
                $"invalid fmt chunk: block align {blockAlign} does not match {channels} channel(s) x {bits} bits (expected {expectedBlockAlign})");
        if (byteRate != (ulong)sampleRate * (ulong)blockAlign)
            warnings.Add($"fmt byte rate {byteRate} does not match sample rate x block align ({(ulong)sampleRate * (ulong)blockAlign}); ignored");

        return new FormatChunk(encoding, channels, (int)sampleRate, bits, blockAlign);
    }

    private static string FormatTagName(ushort tag) => tag switch
    {
        0x0000 => "unknown",
        0x0002 => "MS ADPCM",
        0x0006 => "A-law",
        0x0007 => "mu-law",
        0x0011 => "IMA ADPCM",
        0x0016 => "ITU G.723 ADPCM",
        0x0031 => "GSM 6.10",
        0x0040 => "ITU G.721 ADPCM",
        0x0050 => "MPEG",
        0x0055 => "MPEG Layer 3",
        0x0092 => "Dolby AC3 SPDIF",
        0x00FF => "AAC",
        0x0161 => "Windows Media Audio",
        0x2000 => "Dolby AC3",
        0x674F => "Ogg Vorbis",
        0xF1AC => "FLAC",
        _ => "not a known WAVE encoding",
    };

    private static bool HasId(ReadOnlySpan<byte> data, int offset, string id)
    {
        if (data.Length < offset + 4) return false;
        for (var i = 0; i < 4; i++)
            if (data[offset + i] != id[i]) return false;
        return true;
    }

    private static bool IsPlausibleChunkId(ReadOnlySpan<byte> data, int offset)
    {
        if (offset < 0 || data.Length < offset + 4) return false;
        for (var i = 0; i < 4; i++)
            if (data[offset + i] is < 0x20 or > 0x7E) return false;
        return true;
    }

    private static string ChunkName(ReadOnlySpan<byte> data, int offset)
    {
        Span<char> name = stackalloc char[4];
        for (var i = 0; i < 4; i++)
            name[i] = data[offset + i] is >= 0x20 and <= 0x7E ? (char)data[offset + i] : '?';
        return new string(name);
    }

    private static uint ReadUInt32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(offset, 4));

    // ---------------------------------------------------------------- sample decoding

    /// <summary>
    /// Decodes the data chunk described by <paramref name="layout"/> into <paramref name="destination"/>
    /// (length >= FrameCount), averaging channels. Integer PCM is scaled by 2^-(bits-1) (u8: (x-128)/128),
    /// exactly as torchaudio does; float samples are kept, and NaN/Inf is rejected.
    /// </summary>
    internal static void DecodeMono(ReadOnlySpan<byte> file, in WavLayout layout, Span<float> destination, string source, List<string> warnings)
    {
        var frames = layout.FrameCount;
        var data = file.Slice(layout.DataOffset, frames * layout.BlockAlign);
        var output = destination[..frames];
        var channels = layout.Channels;
        switch (layout.Encoding)
        {
            case SampleEncoding.PcmU8:
                DecodeU8(data, channels, output);
                break;
            case SampleEncoding.PcmS16:
                DecodeS16(data, channels, output);
                break;
            case SampleEncoding.PcmS24:
                DecodeS24(data, channels, output);
                break;
            case SampleEncoding.PcmS32:
                DecodeS32(data, channels, output);
                break;
            case SampleEncoding.Float32:
                DecodeF32(data, channels, output);
                CheckFloatSamples(output, source, warnings);
                break;
            case SampleEncoding.Float64:
                DecodeF64(data, channels, output);
                CheckFloatSamples(output, source, warnings);
                break;
            default:
                throw new InvalidOperationException($"unhandled encoding {layout.Encoding}");
        }
    }

    private static void DecodeU8(ReadOnlySpan<byte> data, int channels, Span<float> output)
    {
        for (int frame = 0, offset = 0; frame < output.Length; frame++)
        {
            var sum = 0f;
            for (var c = 0; c < channels; c++)
                sum += (data[offset++] - 128) / 128f;
            output[frame] = channels == 1 ? sum : sum / channels;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a per-sample loop: optimised from its first call (see LogMelExtractor)
    private static void DecodeS16(ReadOnlySpan<byte> data, int channels, Span<float> output)
    {
        const float scale = 1f / 32768f;
        if (channels == 1 && BitConverter.IsLittleEndian)
        {
            // The common case (CREMA-D is 16-bit mono): widen and convert a vector at a time.
            var shorts = MemoryMarshal.Cast<byte, short>(data);
            var lanes = Vector<short>.Count;
            var i = 0;
            for (; i <= shorts.Length - lanes; i += lanes)
            {
                Vector.Widen(new Vector<short>(shorts[i..]), out var low, out var high);
                (Vector.ConvertToSingle(low) * scale).CopyTo(output[i..]);
                (Vector.ConvertToSingle(high) * scale).CopyTo(output[(i + lanes / 2)..]);
            }
            for (; i < shorts.Length; i++)
                output[i] = shorts[i] * scale;
            return;
        }
        for (int frame = 0, offset = 0; frame < output.Length; frame++)
        {
            var sum = 0f;
            for (var c = 0; c < channels; c++, offset += 2)
                sum += BinaryPrimitives.ReadInt16LittleEndian(data[offset..]) * scale;
            output[frame] = channels == 1 ? sum : sum / channels;
        }
    }

    private static void DecodeS24(ReadOnlySpan<byte> data, int channels, Span<float> output)
    {
        const float scale = 1f / 8388608f;
        for (int frame = 0, offset = 0; frame < output.Length; frame++)
        {
            var sum = 0f;
            for (var c = 0; c < channels; c++, offset += 3)
                sum += (data[offset] | (data[offset + 1] << 8) | ((sbyte)data[offset + 2] << 16)) * scale;
            output[frame] = channels == 1 ? sum : sum / channels;
        }
    }

    private static void DecodeS32(ReadOnlySpan<byte> data, int channels, Span<float> output)
    {
        const float scale = 1f / 2147483648f;
        for (int frame = 0, offset = 0; frame < output.Length; frame++)
        {
            var sum = 0f;
            for (var c = 0; c < channels; c++, offset += 4)
                sum += BinaryPrimitives.ReadInt32LittleEndian(data[offset..]) * scale;
            output[frame] = channels == 1 ? sum : sum / channels;
        }
    }

    private static void DecodeF32(ReadOnlySpan<byte> data, int channels, Span<float> output)
    {
        if (channels == 1 && BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, float>(data).CopyTo(output);
            return;
        }
        for (int frame = 0, offset = 0; frame < output.Length; frame++)
        {
            var sum = 0f;
            for (var c = 0; c < channels; c++, offset += 4)
                sum += BinaryPrimitives.ReadSingleLittleEndian(data[offset..]);
            output[frame] = channels == 1 ? sum : sum / channels;
        }
    }

    private static void DecodeF64(ReadOnlySpan<byte> data, int channels, Span<float> output)
    {
        for (int frame = 0, offset = 0; frame < output.Length; frame++)
        {
            var sum = 0f;
            for (var c = 0; c < channels; c++, offset += 8)
                sum += (float)BinaryPrimitives.ReadDoubleLittleEndian(data[offset..]);
            output[frame] = channels == 1 ? sum : sum / channels;
        }
    }

    /// <summary>Rejects NaN/Inf (which would poison features and normalisation statistics) and notes over-range floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a per-sample loop: optimised from its first call (see LogMelExtractor)
    private static void CheckFloatSamples(ReadOnlySpan<float> samples, string source, List<string> warnings)
    {
        var peak = 0f;
        var i = 0;
        var lanes = Vector<float>.Count;
        var peakVector = Vector<float>.Zero;
        var finite = true;
        for (; i <= samples.Length - lanes; i += lanes)
        {
            var v = new Vector<float>(samples[i..]);
            // x - x is 0 for every finite x and NaN for NaN and ±Inf.
            finite &= Vector.EqualsAll(v - v, Vector<float>.Zero);
            peakVector = Vector.Max(peakVector, Vector.Abs(v));
        }
        for (var lane = 0; lane < lanes; lane++)
            peak = Math.Max(peak, peakVector[lane]);
        for (; i < samples.Length; i++)
        {
            finite &= float.IsFinite(samples[i]);
            peak = Math.Max(peak, Math.Abs(samples[i]));
        }
        if (!finite)
            throw new AudioFormatException(source, "non-finite samples (NaN/Inf)");
        if (peak > 1f)
            warnings.Add($"float samples exceed full scale (peak {peak:0.###})");
    }
}

internal enum SampleEncoding { PcmU8, PcmS16, PcmS24, PcmS32, Float32, Float64 }

/// <summary>Where a WAV file's samples are and how they are encoded.</summary>
internal readonly record struct WavLayout(
    SampleEncoding Encoding, int Channels, int SampleRate, int BitsPerSample, int BlockAlign, int DataOffset, int FrameCount)
{
    public string EncodingName => Encoding switch
    {
        SampleEncoding.PcmU8 => AudioEncodings.PcmU8,
        SampleEncoding.PcmS16 => AudioEncodings.PcmS16,
        SampleEncoding.PcmS24 => AudioEncodings.PcmS24,
        SampleEncoding.PcmS32 => AudioEncodings.PcmS32,
        SampleEncoding.Float32 => AudioEncodings.Float32,
        _ => AudioEncodings.Float64,
    };
}
