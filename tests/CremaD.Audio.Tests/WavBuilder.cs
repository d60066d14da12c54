using System.Buffers.Binary;
using System.Text;

namespace CremaD.Audio.Tests;

/// <summary>Writes RIFF/WAVE files byte by byte, including the malformed variants real corpora contain.</summary>
internal static class WavBuilder
{
    public const ushort Pcm = 1;
    public const ushort IeeeFloat = 3;
    public const ushort Extensible = 0xFFFE;

    /// <summary>A chunk: id, size, body and the pad byte RIFF requires after an odd-sized body.</summary>
    public static byte[] Chunk(string id, byte[] body, bool padOddSize = true, uint? declaredSize = null)
    {
        var padded = padOddSize && body.Length % 2 == 1;
        var chunk = new byte[8 + body.Length + (padded ? 1 : 0)];
        Encoding.ASCII.GetBytes(id).CopyTo(chunk, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(chunk.AsSpan(4), declaredSize ?? (uint)body.Length);
        body.CopyTo(chunk, 8);
        return chunk;
    }

    /// <summary>"RIFF" size "WAVE" followed by the chunks; the RIFF size is computed unless given.</summary>
    public static byte[] Riff(IEnumerable<byte[]> chunks, uint? declaredRiffSize = null, string magic = "RIFF")
    {
        var body = chunks.SelectMany(c => c).ToArray();
        var file = new byte[12 + body.Length];
        Encoding.ASCII.GetBytes(magic).CopyTo(file, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), declaredRiffSize ?? (uint)(4 + body.Length));
        Encoding.ASCII.GetBytes("WAVE").CopyTo(file, 8);
        body.CopyTo(file, 12);
        return file;
    }

    public static byte[] Fmt(ushort tag, int channels, int sampleRate, int bits, int? blockAlign = null, int? byteRate = null)
    {
        var align = blockAlign ?? channels * bits / 8;
        var body = new byte[16];
        BinaryPrimitives.WriteUInt16LittleEndian(body, tag);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)(byteRate ?? sampleRate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), (ushort)bits);
        return Chunk("fmt ", body);
    }

    /// <summary>WAVE_FORMAT_EXTENSIBLE whose sub-format GUID is the one derived from <paramref name="subFormatTag"/>.</summary>
    public static byte[] FmtExtensible(ushort subFormatTag, int channels, int sampleRate, int bits, int validBits, uint channelMask = 0, byte[]? guidTail = null)
    {
        var align = channels * bits / 8;
        var body = new byte[40];
        BinaryPrimitives.WriteUInt16LittleEndian(body, Extensible);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)sampleRate);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)(sampleRate * align));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), (ushort)align);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), (ushort)bits);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(16), 22);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(18), (ushort)validBits);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(20), channelMask);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(24), subFormatTag);
        (guidTail ?? [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]).CopyTo(body, 28);
        return Chunk("fmt ", body);
    }

    public static byte[] Data(byte[] samples, uint? declaredSize = null) => Chunk("data", samples, declaredSize: declaredSize);

    public static byte[] List(string text) => Chunk("LIST", [.. Encoding.ASCII.GetBytes("INFOISFT"), .. Encoding.ASCII.GetBytes(text)]);

    public static byte[] U8(params byte[] samples) => samples;

    public static byte[] S16(params short[] samples)
    {
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * i), samples[i]);
        return bytes;
    }

    public static byte[] S24(params int[] samples)
    {
        var bytes = new byte[samples.Length * 3];
        for (var i = 0; i < samples.Length; i++)
        {
            bytes[3 * i] = (byte)samples[i];
            bytes[3 * i + 1] = (byte)(samples[i] >> 8);
            bytes[3 * i + 2] = (byte)(samples[i] >> 16);
        }
        return bytes;
    }

    public static byte[] S32(params int[] samples)
    {
        var bytes = new byte[samples.Length * 4];
        for (var i = 0; i < samples.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), samples[i]);
        return bytes;
    }

    public static byte[] F32(params float[] samples)
    {
        var bytes = new byte[samples.Length * 4];
        for (var i = 0; i < samples.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), samples[i]);
        return bytes;
    }

    public static byte[] F64(params double[] samples)
    {
        var bytes = new byte[samples.Length * 8];
        for (var i = 0; i < samples.Length; i++)
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), samples[i]);
        return bytes;
    }

    /// <summary>A plain 16-bit mono PCM file.</summary>
    public static byte[] MonoS16(int sampleRate, short[] samples) =>
        Riff([Fmt(Pcm, 1, sampleRate, 16), Data(S16(samples))]);

    /// <summary>A sine wave (amplitude in [0,1)) plus optional deterministic noise, as 16-bit samples.</summary>
    public static short[] SineS16(int count, int sampleRate, double frequency, double amplitude, int seed = 0, double noise = 0)
    {
        var random = new Random(seed);
        var samples = new short[count];
        for (var i = 0; i < count; i++)
        {
            var x = amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate) + noise * (random.NextDouble() * 2 - 1);
            samples[i] = (short)Math.Clamp(Math.Round(x * 32768), short.MinValue, short.MaxValue);
        }
        return samples;
    }
}
