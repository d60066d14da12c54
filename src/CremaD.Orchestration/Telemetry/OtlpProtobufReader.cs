using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CremaD.Orchestration.Telemetry;

/// <summary>What one OTLP trace export contained.</summary>
/// <param name="Spans">The spans that were valid, flattened.</param>
/// <param name="RejectedSpans">Spans left out because their ids were invalid (OTLP partial success).</param>
/// <param name="RejectionMessage">Why the first rejected span was left out, when any was.</param>
public sealed record OtlpTraceExport(IReadOnlyList<SpanRecord> Spans, long RejectedSpans, string? RejectionMessage);

/// <summary>
/// Decodes an OTLP <c>opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest</c> from the protobuf wire
/// format into <see cref="SpanRecord"/>s. Hand-written for the handful of messages involved (field numbers from
/// opentelemetry-proto's trace.proto, common.proto and resource.proto) instead of generated code, so the AppHost
/// needs neither Google.Protobuf nor a code generator. Fields it does not use (links, trace state, flags, dropped
/// counts, schema URLs, and any field a later OTLP version adds) are skipped by wire type, as protobuf requires.
/// Fields may arrive in any order and repeated occurrences of a message field merge, as in any protobuf parser.
/// </summary>
public static class OtlpProtobufReader
{
    /// <summary>How deeply attribute values (arrays and key/value lists) may nest; deeper is rejected as malformed.</summary>
    public const int MaxAnyValueDepth = 32;

    /// <summary>The <c>service.name</c> OpenTelemetry specifies for a resource that does not name its service.</summary>
    public const string UnknownServiceName = "unknown_service";

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // For display: keep non-ASCII text readable instead of \uXXXX escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Decodes one export request. Spans with invalid ids are counted in <see cref="OtlpTraceExport.RejectedSpans"/>.</summary>
    /// <exception cref="OtlpFormatException">The payload is not a well-formed ExportTraceServiceRequest.</exception>
    public static OtlpTraceExport ReadExportTraceServiceRequest(ReadOnlySpan<byte> payload)
    {
        var batch = new Batch();
        var reader = new ProtobufWireReader(payload, "ExportTraceServiceRequest");
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                ReadResourceSpans(reader.ReadMessage("ResourceSpans"), batch);
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
        return new OtlpTraceExport(batch.Spans, batch.Rejected, batch.FirstRejection);
    }

    private sealed class Batch
    {
        public List<SpanRecord> Spans { get; } = [];
        public long Rejected { get; private set; }
        public string? FirstRejection { get; private set; }

        public void Reject(string reason)
        {
            Rejected++;
            FirstRejection ??= reason;
        }
    }

    private sealed record ResourceInfo(string ServiceName, string? ServiceInstanceId);

    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
    private static void ReadResourceSpans(ProtobufWireReader reader, Batch batch)
    {
        // The resource may follow the spans on the wire, so it is read in a first pass over the message.
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var firstPass = reader;
        while (firstPass.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                ReadResource(firstPass.ReadMessage("Resource"), attributes);
            }
            else
            {
                firstPass.SkipField(field, wire);
            }
        }
        var resource = new ResourceInfo(
            attributes.TryGetValue("service.name", out var serviceName) && serviceName.Length > 0 ? serviceName : UnknownServiceName,
            attributes.TryGetValue("service.instance.id", out var instanceId) && instanceId.Length > 0 ? instanceId : null);

        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 2 && wire == WireType.LengthDelimited)
            {
                ReadScopeSpans(reader.ReadMessage("ScopeSpans"), resource, batch);
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
    }

    // Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; repeated EntityRef entity_refs = 3; }
    private static void ReadResource(ProtobufWireReader reader, Dictionary<string, string> attributes)
    {
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                ReadKeyValue(reader.ReadMessage("KeyValue"), attributes);
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
    }

    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
    private static void ReadScopeSpans(ProtobufWireReader reader, ResourceInfo resource, Batch batch)
    {
        var scopeName = "";
        var firstPass = reader;
        while (firstPass.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                scopeName = ReadScopeName(firstPass.ReadMessage("InstrumentationScope"), scopeName);
            }
            else
            {
                firstPass.SkipField(field, wire);
            }
        }
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 2 && wire == WireType.LengthDelimited)
            {
                ReadSpan(reader.ReadMessage("Span"), resource, scopeName, batch);
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
    }

    // InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
    private static string ReadScopeName(ProtobufWireReader reader, string name)
    {
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                name = reader.ReadString();
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
        return name;
    }

    // Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
    //        SpanKind kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
    //        repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; repeated Event events = 11;
    //        uint32 dropped_events_count = 12; repeated Link links = 13; uint32 dropped_links_count = 14;
    //        Status status = 15; fixed32 flags = 16; }
    private static void ReadSpan(ProtobufWireReader reader, ResourceInfo resource, string scopeName, Batch batch)
    {
        ReadOnlySpan<byte> traceId = default;
        ReadOnlySpan<byte> spanId = default;
        ReadOnlySpan<byte> parentSpanId = default;
        var name = "";
        ulong kind = 0;
        ulong startNanos = 0;
        ulong endNanos = 0;
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var events = new List<SpanEventRecord>();
        ulong statusCode = 0;
        string? statusMessage = null;

        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == WireType.LengthDelimited:
                    traceId = reader.ReadBytes();
                    break;
                case 2 when wire == WireType.LengthDelimited:
                    spanId = reader.ReadBytes();
                    break;
                case 4 when wire == WireType.LengthDelimited:
                    parentSpanId = reader.ReadBytes();
                    break;
                case 5 when wire == WireType.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case 6 when wire == WireType.Varint:
                    kind = reader.ReadVarint();
                    break;
                case 7 when wire == WireType.Fixed64:
                    startNanos = reader.ReadFixed64();
                    break;
                case 8 when wire == WireType.Fixed64:
                    endNanos = reader.ReadFixed64();
                    break;
                case 9 when wire == WireType.LengthDelimited:
                    ReadKeyValue(reader.ReadMessage("KeyValue"), attributes);
                    break;
                case 11 when wire == WireType.LengthDelimited:
                    events.Add(ReadEvent(reader.ReadMessage("Span.Event")));
                    break;
                case 15 when wire == WireType.LengthDelimited:
                    ReadStatus(reader.ReadMessage("Status"), ref statusCode, ref statusMessage);
                    break;
                default:
                    reader.SkipField(field, wire);
                    break;
            }
        }

        // Per trace.proto an id of the wrong length or all zeroes is invalid: such a span cannot be placed in a
        // trace, so it is rejected alone (partial success) rather than failing the whole batch.
        if (!IsValidId(traceId, 16))
        {
            batch.Reject($"span '{name}' has an invalid trace_id ({traceId.Length} bytes{(traceId.Length == 16 ? ", all zero" : "")})");
            return;
        }
        if (!IsValidId(spanId, 8))
        {
            batch.Reject($"span '{name}' has an invalid span_id ({spanId.Length} bytes{(spanId.Length == 8 ? ", all zero" : "")})");
            return;
        }
        if (parentSpanId.Length is not (0 or 8))
        {
            batch.Reject($"span '{name}' has an invalid parent_span_id ({parentSpanId.Length} bytes)");
            return;
        }

        var start = FromUnixNanos(startNanos);
        // A missing or inverted end time would give a negative duration; show such a span as instantaneous.
        var end = endNanos < startNanos ? start : FromUnixNanos(endNanos);
        events.Sort((a, b) => a.Time.CompareTo(b.Time));
        batch.Spans.Add(new SpanRecord(
            TraceId: Convert.ToHexStringLower(traceId),
            SpanId: Convert.ToHexStringLower(spanId),
            ParentSpanId: IsValidId(parentSpanId, 8) ? Convert.ToHexStringLower(parentSpanId) : null,
            Name: name,
            ServiceName: resource.ServiceName,
            ServiceInstanceId: resource.ServiceInstanceId,
            Kind: SpanKindName(kind),
            Scope: scopeName,
            Start: start,
            End: end,
            StatusCode: StatusCodeName(statusCode),
            StatusMessage: string.IsNullOrEmpty(statusMessage) ? null : statusMessage,
            Attributes: attributes,
            Events: events));
    }

    // Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
    private static SpanEventRecord ReadEvent(ProtobufWireReader reader)
    {
        ulong timeNanos = 0;
        var name = "";
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == WireType.Fixed64:
                    timeNanos = reader.ReadFixed64();
                    break;
                case 2 when wire == WireType.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case 3 when wire == WireType.LengthDelimited:
                    ReadKeyValue(reader.ReadMessage("KeyValue"), attributes);
                    break;
                default:
                    reader.SkipField(field, wire);
                    break;
            }
        }
        return new SpanEventRecord(name, FromUnixNanos(timeNanos), attributes);
    }

    // Status { reserved 1; string message = 2; StatusCode code = 3; }
    private static void ReadStatus(ProtobufWireReader reader, ref ulong code, ref string? message)
    {
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 2 when wire == WireType.LengthDelimited:
                    message = reader.ReadString();
                    break;
                case 3 when wire == WireType.Varint:
                    code = reader.ReadVarint();
                    break;
                default:
                    reader.SkipField(field, wire);
                    break;
            }
        }
    }

    // KeyValue { string key = 1; AnyValue value = 2; } — stored with the value rendered as text; a repeated key keeps
    // the last value.
    private static void ReadKeyValue(ProtobufWireReader reader, Dictionary<string, string> attributes)
    {
        var (key, value) = ReadKeyValuePair(reader, depth: 0);
        attributes[key] = RenderAsText(value);
    }

    private static (string Key, object? Value) ReadKeyValuePair(ProtobufWireReader reader, int depth)
    {
        var key = "";
        object? value = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == WireType.LengthDelimited:
                    key = reader.ReadString();
                    break;
                case 2 when wire == WireType.LengthDelimited:
                    value = ReadAnyValue(reader.ReadMessage("AnyValue"), depth + 1);
                    break;
                default:
                    reader.SkipField(field, wire);
                    break;
            }
        }
        return (key, value);
    }

    // AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
    //   double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
    // Decoded to string, bool, long, double, byte[], List<object?> (array), List<(string, object?)> (kvlist) or
    // null (empty); when several members of the oneof are present, the last wins, as in any protobuf parser.
    private static object? ReadAnyValue(ProtobufWireReader reader, int depth)
    {
        if (depth > MaxAnyValueDepth)
        {
            throw reader.Error($"attribute value nested more than {MaxAnyValueDepth} levels deep");
        }
        object? value = null;
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == WireType.LengthDelimited:
                    value = reader.ReadString();
                    break;
                case 2 when wire == WireType.Varint:
                    value = reader.ReadVarint() != 0;
                    break;
                case 3 when wire == WireType.Varint:
                    value = unchecked((long)reader.ReadVarint());
                    break;
                case 4 when wire == WireType.Fixed64:
                    value = reader.ReadDouble();
                    break;
                case 5 when wire == WireType.LengthDelimited:
                    value = ReadArrayValue(reader.ReadMessage("ArrayValue"), depth);
                    break;
                case 6 when wire == WireType.LengthDelimited:
                    value = ReadKeyValueList(reader.ReadMessage("KeyValueList"), depth);
                    break;
                case 7 when wire == WireType.LengthDelimited:
                    value = reader.ReadBytes().ToArray();
                    break;
                default:
                    reader.SkipField(field, wire);
                    break;
            }
        }
        return value;
    }

    // ArrayValue { repeated AnyValue values = 1; }
    private static List<object?> ReadArrayValue(ProtobufWireReader reader, int depth)
    {
        var values = new List<object?>();
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                values.Add(ReadAnyValue(reader.ReadMessage("AnyValue"), depth + 1));
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
        return values;
    }

    // KeyValueList { repeated KeyValue values = 1; }
    private static List<(string Key, object? Value)> ReadKeyValueList(ProtobufWireReader reader, int depth)
    {
        var values = new List<(string Key, object? Value)>();
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                values.Add(ReadKeyValuePair(reader.ReadMessage("KeyValue"), depth + 1));
            }
            else
            {
                reader.SkipField(field, wire);
            }
        }
        return values;
    }

    /// <summary>
    /// An attribute value as the dashboard shows it: text as is, numbers and booleans in invariant form, bytes as
    /// base64, arrays and key/value lists as JSON, an empty value as "".
    /// </summary>
    private static string RenderAsText(object? value) => value switch
    {
        null => "",
        string text => text,
        bool flag => flag ? "true" : "false",
        long integer => integer.ToString(CultureInfo.InvariantCulture),
        double number => number.ToString("R", CultureInfo.InvariantCulture),
        byte[] bytes => Convert.ToBase64String(bytes),
        _ => RenderAsJson(value),
    };

    private static string RenderAsJson(object? value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
        {
            WriteJson(writer, value);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteJson(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case bool flag:
                writer.WriteBooleanValue(flag);
                break;
            case long integer:
                writer.WriteNumberValue(integer);
                break;
            case double number when double.IsFinite(number):
                writer.WriteNumberValue(number);
                break;
            case double number:
                // JSON has no NaN or infinities; write them as the strings .NET (and OTLP/JSON) use.
                writer.WriteStringValue(number.ToString(CultureInfo.InvariantCulture));
                break;
            case byte[] bytes:
                writer.WriteBase64StringValue(bytes);
                break;
            case List<object?> array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    WriteJson(writer, item);
                }
                writer.WriteEndArray();
                break;
            case List<(string Key, object? Value)> pairs:
                writer.WriteStartObject();
                foreach (var (key, item) in pairs)
                {
                    writer.WritePropertyName(key);
                    WriteJson(writer, item);
                }
                writer.WriteEndObject();
                break;
            default:
                throw new InvalidOperationException($"unexpected attribute value type {value.GetType()}");
        }
    }

    private static bool IsValidId(ReadOnlySpan<byte> id, int length) => id.Length == length && id.IndexOfAnyExcept((byte)0) >= 0;

    // 2^64 ns is about year 2554, well inside DateTimeOffset's range, so this cannot overflow.
    private static DateTimeOffset FromUnixNanos(ulong nanos) => DateTimeOffset.UnixEpoch.AddTicks((long)(nanos / 100));

    private static string SpanKindName(ulong kind) => kind switch
    {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    };

    private static string StatusCodeName(ulong code) => code switch
    {
        1 => "ok",
        2 => "error",
        _ => "unset",
    };
}
