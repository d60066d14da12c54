using System.Buffers.Binary;
using System.Text;

namespace CremaD.AppHost.Tests.Telemetry;

/// <summary>
/// Builds protobuf bytes by hand, field by field, for the decoder tests. Written independently of the production
/// reader and writer so that a mistake in one is not mirrored by the other.
/// </summary>
internal sealed class Proto
{
    private readonly List<byte> bytes = [];

    public Proto Tag(int field, int wireType) => RawVarint(((ulong)field << 3) | (uint)wireType);

    public Proto RawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        bytes.Add((byte)value);
        return this;
    }

    public Proto Raw(params byte[] raw)
    {
        bytes.AddRange(raw);
        return this;
    }

    public Proto Varint(int field, ulong value) => Tag(field, 0).RawVarint(value);

    public Proto Fixed64(int field, ulong value)
    {
        Tag(field, 1);
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
        return Raw(buffer.ToArray());
    }

    public Proto Fixed32(int field, uint value)
    {
        Tag(field, 5);
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        return Raw(buffer.ToArray());
    }

    public Proto Double(int field, double value) => Fixed64(field, BitConverter.DoubleToUInt64Bits(value));

    public Proto Bytes(int field, byte[] value) => Tag(field, 2).RawVarint((ulong)value.Length).Raw(value);

    public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

    public Proto Group(int field, Proto content) => Tag(field, 3).Raw(content.ToArray()).Tag(field, 4);

    /// <summary>Appends another builder's bytes (fields of the same message).</summary>
    public Proto Append(Proto other) => Raw(other.ToArray());

    public byte[] ToArray() => [.. bytes];
}

/// <summary>OTLP messages built with <see cref="Proto"/>, using the field numbers of opentelemetry-proto.</summary>
internal static class Otlp
{
    // AnyValue { string_value = 1; bool_value = 2; int_value = 3; double_value = 4; array_value = 5; kvlist_value = 6; bytes_value = 7 }
    public static Proto StringValue(string value) => new Proto().String(1, value);
    public static Proto BoolValue(bool value) => new Proto().Varint(2, value ? 1UL : 0UL);
    public static Proto IntValue(long value) => new Proto().Varint(3, unchecked((ulong)value));
    public static Proto DoubleValue(double value) => new Proto().Double(4, value);
    public static Proto ArrayValue(params Proto[] values) => new Proto().Message(5, Repeated(1, values));
    public static Proto KvListValue(params Proto[] keyValues) => new Proto().Message(6, Repeated(1, keyValues));
    public static Proto BytesValue(byte[] value) => new Proto().Bytes(7, value);
    public static Proto EmptyValue() => new();

    // KeyValue { string key = 1; AnyValue value = 2; }
    public static Proto KeyValue(string key, Proto value) => new Proto().String(1, key).Message(2, value);

    // Resource { repeated KeyValue attributes = 1; }
    public static Proto Resource(params Proto[] attributes) => Repeated(1, attributes);

    // InstrumentationScope { string name = 1; string version = 2; }
    public static Proto Scope(string name) => new Proto().String(1, name).String(2, "1.2.3");

    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
    public static Proto ScopeSpans(string scopeName, params Proto[] spans) => new Proto().Message(1, Scope(scopeName)).Append(Repeated(2, spans));

    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    public static Proto ResourceSpans(Proto resource, params Proto[] scopeSpans) => new Proto().Message(1, resource).Append(Repeated(2, scopeSpans));

    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    public static byte[] Request(params Proto[] resourceSpans) => Repeated(1, resourceSpans).ToArray();

    /// <summary>A minimal valid span: ids, name, kind, times.</summary>
    public static Proto Span(byte[] traceId, byte[] spanId, string name, ulong startNanos, ulong endNanos, byte[]? parentSpanId = null)
    {
        var span = new Proto().Bytes(1, traceId).Bytes(2, spanId);
        if (parentSpanId is not null)
        {
            span.Bytes(4, parentSpanId);
        }
        return span.String(5, name).Varint(6, 1).Fixed64(7, startNanos).Fixed64(8, endNanos);
    }

    /// <summary>A one-span request from service <paramref name="service"/>.</summary>
    public static byte[] SingleSpanRequest(string service, byte[] traceId, byte[] spanId, string name) =>
        Request(ResourceSpans(Resource(KeyValue("service.name", StringValue(service))),
            ScopeSpans("test-scope", Span(traceId, spanId, name, 1_700_000_000_000_000_000, 1_700_000_001_000_000_000))));

    public static Proto Repeated(int field, IEnumerable<Proto> messages)
    {
        var result = new Proto();
        foreach (var message in messages)
        {
            result.Message(field, message);
        }
        return result;
    }

    /// <summary>The top-level fields of a small protobuf message: varints as ulong, length-delimited as byte[].</summary>
    public static List<(int Field, object Value)> ParseFields(byte[] message)
    {
        var fields = new List<(int, object)>();
        var position = 0;
        ulong ReadVarint()
        {
            ulong result = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = message[position++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return result;
                }
            }
        }
        while (position < message.Length)
        {
            var tag = ReadVarint();
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    fields.Add((field, ReadVarint()));
                    break;
                case 2:
                    var length = (int)ReadVarint();
                    fields.Add((field, message[position..(position + length)]));
                    position += length;
                    break;
                default:
                    throw new InvalidDataException($"unexpected wire type {tag & 7} in a response");
            }
        }
        return fields;
    }
}
