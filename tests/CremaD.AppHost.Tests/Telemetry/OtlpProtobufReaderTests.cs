using System.Text.Json;
using CremaD.Orchestration.Telemetry;
using static CremaD.AppHost.Tests.Telemetry.Otlp;

namespace CremaD.AppHost.Tests.Telemetry;

public sealed class OtlpProtobufReaderTests
{
    private static readonly byte[] TraceId = Convert.FromHexString("0102030405060708090A0B0C0D0E0F10");
    private static readonly byte[] SpanId = Convert.FromHexString("A1A2A3A4A5A6A7A8");
    private static readonly byte[] ParentId = Convert.FromHexString("B1B2B3B4B5B6B7B8");

    // 2023-11-14T22:13:20.123456700Z and one and a half seconds later.
    private const ulong StartNanos = 1_700_000_000_123_456_700;
    private const ulong EndNanos = StartNanos + 1_500_000_000;
    private static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123).AddTicks(4567);

    /// <summary>
    /// A request with one span using every field the reader interprets. With <paramref name="noise"/>, fields the
    /// reader must skip (unknown numbers of every wire type including nested groups, and the OTLP fields it does
    /// not use) are mixed in at every level.
    /// </summary>
    private static byte[] SampleRequest(bool noise)
    {
        Proto N(Proto message) => noise ? message.Append(Noise()) : message;

        var attributes = new[]
        {
            KeyValue("http.method", N(StringValue("POST"))),
            KeyValue("retry", BoolValue(true)),
            KeyValue("cremad.epoch", IntValue(-3)),
            KeyValue("loss", DoubleValue(0.25)),
            KeyValue("classes", ArrayValue(StringValue("ANG"), IntValue(1), BoolValue(false))),
            KeyValue("shape", KvListValue(KeyValue("frames", IntValue(120)), N(KeyValue("bands", IntValue(80))))),
            KeyValue("digest", BytesValue([1, 2, 3])),
            KeyValue("cremad.run_id", StringValue("6f1c7d8e-0000-4000-8000-000000000001")),
        };
        // Span.Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped = 4 }
        var laterEvent = N(new Proto().Fixed64(1, StartNanos + 900_000_000).String(2, "checkpoint saved")
            .Message(3, KeyValue("path", StringValue("best.pt"))).Varint(4, 0));
        var earlierEvent = new Proto().Fixed64(1, StartNanos + 100_000_000).String(2, "exception")
            .Message(3, KeyValue("exception.type", StringValue("IOException")));
        // Status { string message = 2; StatusCode code = 3 }
        var status = N(new Proto().String(2, "disk full").Varint(3, 2));

        var span = new Proto().Bytes(1, TraceId).Bytes(2, SpanId).Bytes(4, ParentId).String(5, "extract shard")
            .Varint(6, 3).Fixed64(7, StartNanos).Fixed64(8, EndNanos)
            .Append(Repeated(9, attributes.Select(N)))
            .Message(11, laterEvent).Message(11, earlierEvent)
            .Message(15, status);
        if (noise)
        {
            // Fields of Span the reader does not use: trace_state, dropped counts, a link, flags (fixed32).
            span.String(3, "vendor=1").Varint(10, 2).Varint(12, 0)
                .Message(13, new Proto().Bytes(1, TraceId).Bytes(2, ParentId).Fixed32(6, 1))
                .Varint(14, 0).Fixed32(16, 0x101)
                .Append(Noise());
        }

        var resource = N(Resource(
            KeyValue("service.name", StringValue("feature-service")),
            KeyValue("service.instance.id", StringValue("feature-1")),
            KeyValue("telemetry.sdk.language", StringValue("dotnet"))));
        var scopeSpans = N(ScopeSpans("CremaD.Features", span));
        var resourceSpans = N(ResourceSpans(resource, scopeSpans));
        if (noise)
        {
            resourceSpans.String(3, "https://opentelemetry.io/schemas/1.26.0");
        }
        return N(new Proto().Message(1, resourceSpans)).ToArray();
    }

    /// <summary>Fields numbered above anything OTLP defines, one of each wire type, with a group inside a group.</summary>
    private static Proto Noise() => new Proto()
        .Varint(2001, ulong.MaxValue)
        .Fixed64(2002, 0x0102030405060708)
        .Fixed32(2003, 0xDEADBEEF)
        .String(2004, "ignored")
        .Group(2005, new Proto().Varint(1, 7).Group(2, new Proto().String(3, "deep").Fixed32(4, 1)).Fixed64(5, 9))
        .Bytes(2006, []);

    [Fact]
    public void Decodes_every_field_of_a_span_its_resource_and_scope()
    {
        var export = OtlpProtobufReader.ReadExportTraceServiceRequest(SampleRequest(noise: false));

        Assert.Equal(0, export.RejectedSpans);
        Assert.Null(export.RejectionMessage);
        var span = Assert.Single(export.Spans);
        Assert.Equal("0102030405060708090a0b0c0d0e0f10", span.TraceId);
        Assert.Equal("a1a2a3a4a5a6a7a8", span.SpanId);
        Assert.Equal("b1b2b3b4b5b6b7b8", span.ParentSpanId);
        Assert.Equal("extract shard", span.Name);
        Assert.Equal("client", span.Kind);
        Assert.Equal("feature-service", span.ServiceName);
        Assert.Equal("feature-1", span.ServiceInstanceId);
        Assert.Equal("CremaD.Features", span.Scope);
        Assert.Equal(Start, span.Start);
        Assert.Equal(TimeSpan.FromSeconds(1.5), span.Duration);
        Assert.Equal(TimeSpan.Zero, span.Start.Offset);
        Assert.Equal("error", span.StatusCode);
        Assert.Equal("disk full", span.StatusMessage);

        Assert.Equal(new Dictionary<string, string>
        {
            ["http.method"] = "POST",
            ["retry"] = "true",
            ["cremad.epoch"] = "-3",
            ["loss"] = "0.25",
            ["classes"] = """["ANG",1,false]""",
            ["shape"] = """{"frames":120,"bands":80}""",
            ["digest"] = "AQID",
            ["cremad.run_id"] = "6f1c7d8e-0000-4000-8000-000000000001",
        }, span.Attributes);

        // Events come out in time order whatever their order on the wire.
        Assert.Collection(span.Events,
            first =>
            {
                Assert.Equal("exception", first.Name);
                Assert.Equal(Start.AddMilliseconds(100), first.Time);
                Assert.Equal("IOException", first.Attributes["exception.type"]);
            },
            second =>
            {
                Assert.Equal("checkpoint saved", second.Name);
                Assert.Equal(Start.AddMilliseconds(900), second.Time);
                Assert.Equal("best.pt", Assert.Single(second.Attributes).Value);
            });
    }

    [Fact]
    public void Unknown_fields_of_every_wire_type_including_nested_groups_are_skipped_at_every_level()
    {
        var clean = OtlpProtobufReader.ReadExportTraceServiceRequest(SampleRequest(noise: false));
        var noisy = OtlpProtobufReader.ReadExportTraceServiceRequest(SampleRequest(noise: true));

        Assert.True(SampleRequest(noise: true).Length > SampleRequest(noise: false).Length + 500);
        Assert.Equal(JsonSerializer.Serialize(clean), JsonSerializer.Serialize(noisy));
    }

    [Fact]
    public void A_known_field_with_an_unexpected_wire_type_is_skipped_like_an_unknown_one()
    {
        // name (5) as a varint and kind (6) as a string: neither is what trace.proto declares.
        var span = new Proto().Bytes(1, TraceId).Bytes(2, SpanId).Varint(5, 42).String(6, "server")
            .Fixed64(7, StartNanos).Fixed64(8, EndNanos);
        var payload = Request(ResourceSpans(Resource(), ScopeSpans("s", span)));

        var decoded = Assert.Single(OtlpProtobufReader.ReadExportTraceServiceRequest(payload).Spans);

        Assert.Equal("", decoded.Name);
        Assert.Equal("unspecified", decoded.Kind);
    }

    [Fact]
    public void Fields_may_arrive_in_any_order()
    {
        // The resource after the scope spans, the scope after the spans, span fields back to front.
        var span = new Proto().Message(15, new Proto().Varint(3, 1)).Fixed64(8, EndNanos).Fixed64(7, StartNanos)
            .Varint(6, 2).String(5, "handle").Bytes(2, SpanId).Bytes(1, TraceId);
        var scopeSpans = new Proto().Message(2, span).Message(1, Scope("CremaD.Pipeline"));
        var resourceSpans = new Proto().Message(2, scopeSpans)
            .Message(1, Resource(KeyValue("service.name", StringValue("runs-api"))));

        var decoded = Assert.Single(OtlpProtobufReader.ReadExportTraceServiceRequest(Request(resourceSpans)).Spans);

        Assert.Equal("runs-api", decoded.ServiceName);
        Assert.Equal("CremaD.Pipeline", decoded.Scope);
        Assert.Equal("handle", decoded.Name);
        Assert.Equal("server", decoded.Kind);
        Assert.Equal("ok", decoded.StatusCode);
        Assert.Null(decoded.ParentSpanId);
        Assert.Null(decoded.StatusMessage);
    }

    [Fact]
    public void Several_resources_and_scopes_in_one_request_keep_their_own_names()
    {
        var otherTrace = Convert.FromHexString("FFEEDDCCBBAA99887766554433221100");
        var payload = Request(
            ResourceSpans(Resource(KeyValue("service.name", StringValue("trainer"))),
                ScopeSpans("CremaD.Training", Span(TraceId, SpanId, "epoch", StartNanos, EndNanos)),
                ScopeSpans("MassTransit", Span(TraceId, ParentId, "publish", StartNanos, EndNanos))),
            ResourceSpans(Resource(KeyValue("service.name", StringValue("evaluator"))),
                ScopeSpans("CremaD.Evaluation", Span(otherTrace, SpanId, "evaluate", StartNanos, EndNanos))));

        var spans = OtlpProtobufReader.ReadExportTraceServiceRequest(payload).Spans;

        Assert.Equal(
            ["trainer/CremaD.Training/epoch", "trainer/MassTransit/publish", "evaluator/CremaD.Evaluation/evaluate"],
            spans.Select(span => $"{span.ServiceName}/{span.Scope}/{span.Name}"));
    }

    public static TheoryData<string, byte[], string> AnyValues() => new()
    {
        { "string", StringValue("héllo \"wörld\"").ToArray(), "héllo \"wörld\"" },
        { "empty string", StringValue("").ToArray(), "" },
        { "true", BoolValue(true).ToArray(), "true" },
        { "false", BoolValue(false).ToArray(), "false" },
        { "int", IntValue(42).ToArray(), "42" },
        { "negative int (10-byte varint)", IntValue(-1).ToArray(), "-1" },
        { "int64 max", IntValue(long.MaxValue).ToArray(), "9223372036854775807" },
        { "int64 min", IntValue(long.MinValue).ToArray(), "-9223372036854775808" },
        { "double", DoubleValue(0.1).ToArray(), "0.1" },
        { "large double", DoubleValue(1e300).ToArray(), "1E+300" },
        { "NaN", DoubleValue(double.NaN).ToArray(), "NaN" },
        { "bytes", BytesValue([0xDE, 0xAD, 0xBE, 0xEF]).ToArray(), "3q2+7w==" },
        { "empty AnyValue", EmptyValue().ToArray(), "" },
        { "array of strings", ArrayValue(StringValue("a"), StringValue("b \"c\"")).ToArray(), """["a","b \"c\""]""" },
        { "empty array", ArrayValue().ToArray(), "[]" },
        {
            "mixed nested array",
            ArrayValue(IntValue(-7), DoubleValue(2.5), DoubleValue(double.PositiveInfinity), BoolValue(true), BytesValue([1, 2, 3]),
                EmptyValue(), ArrayValue(StringValue("x"), ArrayValue()), KvListValue(KeyValue("k", StringValue("ü")))).ToArray(),
            """[-7,2.5,"Infinity",true,"AQID",null,["x",[]],{"k":"ü"}]"""
        },
        {
            "kvlist",
            KvListValue(KeyValue("model", StringValue("gru")), KeyValue("layers", IntValue(2)),
                KeyValue("sizes", ArrayValue(IntValue(128), IntValue(64))), KeyValue("none", EmptyValue())).ToArray(),
            """{"model":"gru","layers":2,"sizes":[128,64],"none":null}"""
        },
        { "empty kvlist", KvListValue().ToArray(), "{}" },
        // A oneof with several members set: the last one wins, as in any protobuf parser.
        { "oneof, last wins", StringValue("first").Append(IntValue(7)).ToArray(), "7" },
    };

    [Theory]
    [MemberData(nameof(AnyValues))]
    public void Renders_every_kind_of_attribute_value(string kind, byte[] anyValue, string expected)
    {
        var span = Span(TraceId, SpanId, kind, StartNanos, EndNanos).Message(9, new Proto().String(1, "value").Bytes(2, anyValue));
        var payload = Request(ResourceSpans(Resource(), ScopeSpans("s", span)));

        var decoded = Assert.Single(OtlpProtobufReader.ReadExportTraceServiceRequest(payload).Spans);

        Assert.Equal(expected, decoded.Attributes["value"]);
    }

    [Fact]
    public void Spans_with_invalid_ids_are_rejected_alone()
    {
        var payload = Request(ResourceSpans(Resource(), ScopeSpans("s",
            Span(TraceId[..15], SpanId, "short trace id", StartNanos, EndNanos),
            Span(TraceId, new byte[8], "zero span id", StartNanos, EndNanos),
            Span(TraceId, SpanId, "odd parent", StartNanos, EndNanos, parentSpanId: [1, 2, 3]),
            Span(TraceId, SpanId, "good", StartNanos, EndNanos, parentSpanId: new byte[8]))));

        var export = OtlpProtobufReader.ReadExportTraceServiceRequest(payload);

        var good = Assert.Single(export.Spans);
        Assert.Equal("good", good.Name);
        Assert.Null(good.ParentSpanId); // an all-zero parent id means no parent
        Assert.Equal(3, export.RejectedSpans);
        Assert.Equal("span 'short trace id' has an invalid trace_id (15 bytes)", export.RejectionMessage);
    }

    [Fact]
    public void Missing_resource_scope_and_times_get_the_specified_defaults()
    {
        var span = new Proto().Bytes(1, TraceId).Bytes(2, SpanId).String(5, "bare").Fixed64(7, StartNanos);
        var payload = Request(new Proto().Message(2, new Proto().Message(2, span)));

        var decoded = Assert.Single(OtlpProtobufReader.ReadExportTraceServiceRequest(payload).Spans);

        Assert.Equal(OtlpProtobufReader.UnknownServiceName, decoded.ServiceName);
        Assert.Null(decoded.ServiceInstanceId);
        Assert.Equal("", decoded.Scope);
        Assert.Equal("unset", decoded.StatusCode);
        Assert.Equal(TimeSpan.Zero, decoded.Duration); // no end time: shown as instantaneous, never negative
        Assert.Empty(decoded.Attributes);
        Assert.Empty(decoded.Events);
    }

    [Fact]
    public void An_empty_request_is_valid_and_holds_nothing()
    {
        var export = OtlpProtobufReader.ReadExportTraceServiceRequest([]);

        Assert.Empty(export.Spans);
        Assert.Equal(0, export.RejectedSpans);
    }

    public static TheoryData<string, byte[], string> MalformedPayloads()
    {
        var deepValue = StringValue("bottom");
        for (var i = 0; i < OtlpProtobufReader.MaxAnyValueDepth + 5; i++)
        {
            deepValue = ArrayValue(deepValue);
        }
        var deepGroup = new Proto().Varint(1, 1);
        for (var i = 0; i < 150; i++)
        {
            deepGroup = new Proto().Group(7, deepGroup);
        }
        var truncatedAttribute = Span(TraceId, SpanId, "s", StartNanos, EndNanos)
            .Tag(9, 2).RawVarint(6).Raw(0x0A, 0x01, (byte)'k', 0x12, 0x05, 0x0A); // KeyValue whose AnyValue runs past its end
        return new TheoryData<string, byte[], string>
        {
            { "tag cut inside a varint", [0x80], "in ExportTraceServiceRequest at byte 0: truncated varint" },
            { "length cut", [0x0A], "at byte 1: truncated varint" },
            { "length past the end", [0x0A, 0x05, 0x01, 0x02], "at byte 1: length 5 exceeds the 2 bytes left" },
            { "nested length past its message", [0x0A, 0x03, 0x12, 0x05, 0x00], "in ResourceSpans at byte 3: length 5 exceeds the 1 bytes left" },
            { "field number 0", [0x00, 0x01], "invalid field number 0" },
            { "wire type 6", [0x0E, 0x01], "invalid wire type 6 for field 1" },
            { "wire type 7", [0x0F, 0x01], "invalid wire type 7 for field 1" },
            { "varint over 64 bits", [0x48, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "varint longer than 64 bits" },
            { "fixed64 cut", [0x49, 0x01, 0x02, 0x03], "truncated fixed64: 8 bytes needed, 3 left" },
            { "fixed32 cut", [0x4D, 0x01], "truncated fixed32: 4 bytes needed, 1 left" },
            { "group never ended", [0x1B, 0x08, 0x01], "group 3 is not terminated" },
            { "group ended by another field", [0x1B, 0x08, 0x01, 0x24], "group 3 closed by an end-group tag for field 4" },
            { "end-group without start", [0x08, 0x01, 0x0C], "end-group tag for field 1 without a matching start-group" },
            { "groups nested too deep", deepGroup.ToArray(), "groups nested more than 100 deep" },
            {
                "attribute value nested too deep",
                Request(ResourceSpans(Resource(), ScopeSpans("s", Span(TraceId, SpanId, "s", StartNanos, EndNanos).Message(9, KeyValue("deep", deepValue))))),
                "attribute value nested more than 32 levels deep"
            },
            { "attribute value cut", Request(ResourceSpans(Resource(), ScopeSpans("s", truncatedAttribute))), "in KeyValue at byte" },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedPayloads))]
    public void Malformed_input_raises_an_error_naming_the_message_the_offset_and_the_reason(string what, byte[] payload, string expected)
    {
        var error = Assert.Throws<OtlpFormatException>(() => OtlpProtobufReader.ReadExportTraceServiceRequest(payload));

        Assert.StartsWith("Malformed OTLP protobuf in ", error.Message);
        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), $"{what}: '{error.Message}' does not contain '{expected}'");
    }
}
