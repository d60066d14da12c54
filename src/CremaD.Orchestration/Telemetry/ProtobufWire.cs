using System.Buffers.Binary;
using System.Text;

namespace CremaD.Orchestration.Telemetry;

/// <summary>
/// An OTLP payload that is not a well-formed protobuf message of the expected type (truncated, a length running past
/// the end, an invalid tag, an unbalanced group, nesting too deep). The message names the message type being read,
/// the byte offset in the payload and the reason; the OTLP receiver answers such a request with 400.
/// </summary>
public sealed class OtlpFormatException : FormatException
{
    public OtlpFormatException(string message)
        : base(message)
    {
    }
}

/// <summary>The protobuf wire types (the low three bits of a field tag); 6 and 7 are invalid.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Reads one protobuf message from a byte span, field by field. A nested message is read with a reader of its own
/// (<see cref="ReadMessage"/>) that remembers where it starts, so errors name the offset in the whole payload.
/// Every read checks bounds: malformed input raises <see cref="OtlpFormatException"/>, never an index error.
/// </summary>
internal ref struct ProtobufWireReader
{
    private const uint MaxFieldNumber = (1u << 29) - 1;

    /// <summary>How deeply groups may nest when skipped (Google.Protobuf's default recursion limit).</summary>
    private const int MaxGroupDepth = 100;

    private readonly ReadOnlySpan<byte> data;
    private readonly int baseOffset;
    private readonly string messageName;
    private int position;

    public ProtobufWireReader(ReadOnlySpan<byte> data, string messageName, int baseOffset = 0)
    {
        this.data = data;
        this.messageName = messageName;
        this.baseOffset = baseOffset;
        position = 0;
    }

    /// <summary>Reads the next field's tag; false at the end of the message.</summary>
    public bool TryReadTag(out int fieldNumber, out WireType wireType)
    {
        if (position >= data.Length)
        {
            fieldNumber = 0;
            wireType = default;
            return false;
        }
        var start = position;
        var tag = ReadVarint();
        if (tag > uint.MaxValue)
        {
            throw Error(start, "field tag does not fit in 32 bits");
        }
        var field = (uint)tag >> 3;
        var wire = (int)(tag & 7);
        if (field == 0 || field > MaxFieldNumber)
        {
            throw Error(start, $"invalid field number {field}");
        }
        if (wire > (int)WireType.Fixed32)
        {
            throw Error(start, $"invalid wire type {wire} for field {field}");
        }
        fieldNumber = (int)field;
        wireType = (WireType)wire;
        return true;
    }

    /// <summary>A base-128 varint of at most 10 bytes (64 bits).</summary>
    public ulong ReadVarint()
    {
        var start = position;
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length)
            {
                throw Error(start, "truncated varint");
            }
            var b = data[position++];
            if (shift == 63 && b > 1)
            {
                throw Error(start, "varint longer than 64 bits");
            }
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
        throw Error(start, "varint longer than 10 bytes");
    }

    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "fixed64"));

    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "fixed32"));

    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadFixed64());

    /// <summary>The payload of a length-delimited field (bytes, string or nested message).</summary>
    public ReadOnlySpan<byte> ReadBytes() => ReadBytes(out _);

    /// <summary>A length-delimited field as UTF-8 text; invalid sequences become U+FFFD rather than failing the batch.</summary>
    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>A nested message: a reader over the field's payload.</summary>
    public ProtobufWireReader ReadMessage(string nestedMessageName)
    {
        var payload = ReadBytes(out var payloadStart);
        return new ProtobufWireReader(payload, nestedMessageName, baseOffset + payloadStart);
    }

    /// <summary>Skips a field this reader does not interpret, whatever its wire type, including (nested) groups.</summary>
    public void SkipField(int fieldNumber, WireType wireType) => SkipField(fieldNumber, wireType, depth: 0);

    /// <summary>An exception naming this message and an offset in the whole payload.</summary>
    public readonly OtlpFormatException Error(string reason) => Error(position, reason);

    private void SkipField(int fieldNumber, WireType wireType, int depth)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Take(8, "fixed64");
                break;
            case WireType.Fixed32:
                Take(4, "fixed32");
                break;
            case WireType.LengthDelimited:
                ReadBytes(out _);
                break;
            case WireType.StartGroup:
                SkipGroup(fieldNumber, depth);
                break;
            case WireType.EndGroup:
                throw Error(position, $"end-group tag for field {fieldNumber} without a matching start-group");
            default:
                throw Error(position, $"invalid wire type {(int)wireType}");
        }
    }

    private void SkipGroup(int groupFieldNumber, int depth)
    {
        var start = position;
        if (depth >= MaxGroupDepth)
        {
            throw Error(start, $"groups nested more than {MaxGroupDepth} deep");
        }
        while (TryReadTag(out var field, out var wire))
        {
            if (wire == WireType.EndGroup)
            {
                if (field != groupFieldNumber)
                {
                    throw Error(position, $"group {groupFieldNumber} closed by an end-group tag for field {field}");
                }
                return;
            }
            SkipField(field, wire, depth + 1);
        }
        throw Error(start, $"group {groupFieldNumber} is not terminated");
    }

    private ReadOnlySpan<byte> ReadBytes(out int payloadStart)
    {
        var start = position;
        var length = ReadVarint();
        var remaining = data.Length - position;
        if (length > (ulong)remaining)
        {
            throw Error(start, $"length {length} exceeds the {remaining} bytes left");
        }
        payloadStart = position;
        var payload = data.Slice(position, (int)length);
        position += (int)length;
        return payload;
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (data.Length - position < count)
        {
            throw Error(position, $"truncated {what}: {count} bytes needed, {data.Length - position} left");
        }
        var bytes = data.Slice(position, count);
        position += count;
        return bytes;
    }

    private readonly OtlpFormatException Error(int at, string reason) =>
        new($"Malformed OTLP protobuf in {messageName} at byte {baseOffset + at}: {reason}.");
}

/// <summary>
/// Writes the few small protobuf messages the receiver sends back (an export response with partial success, a
/// google.rpc.Status with an error message).
/// </summary>
internal sealed class ProtobufWireWriter
{
    private readonly List<byte> bytes = [];

    public ProtobufWireWriter Varint(int fieldNumber, ulong value)
    {
        Tag(fieldNumber, WireType.Varint);
        RawVarint(value);
        return this;
    }

    public ProtobufWireWriter String(int fieldNumber, string value) => Bytes(fieldNumber, Encoding.UTF8.GetBytes(value));

    public ProtobufWireWriter Message(int fieldNumber, ProtobufWireWriter message) => Bytes(fieldNumber, message.ToArray());

    public ProtobufWireWriter Bytes(int fieldNumber, byte[] value)
    {
        Tag(fieldNumber, WireType.LengthDelimited);
        RawVarint((ulong)value.Length);
        bytes.AddRange(value);
        return this;
    }

    public byte[] ToArray() => [.. bytes];

    private void Tag(int fieldNumber, WireType wireType) => RawVarint(((ulong)fieldNumber << 3) | (ulong)wireType);

    private void RawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        bytes.Add((byte)value);
    }
}
