using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CremaD.Orchestration.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CremaD.AppHost.Tests.Telemetry;

/// <summary>The receiver hosted on a real Kestrel listener on a free loopback port, with its own store.</summary>
internal sealed class OtlpReceiverHost : IAsyncDisposable
{
    private readonly WebApplication app;

    private OtlpReceiverHost(WebApplication app, TraceStore store, Uri address)
    {
        this.app = app;
        Store = store;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public TraceStore Store { get; }

    /// <summary>http://127.0.0.1:&lt;port&gt;/</summary>
    public Uri Address { get; }

    public HttpClient Http { get; }

    public static async Task<OtlpReceiverHost> StartAsync(string? apiKey)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var store = new TraceStore();
        app.MapOtlpHttpReceiver(store, apiKey);
        await app.StartAsync();
        return new OtlpReceiverHost(app, store, new Uri(app.Urls.Single()));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

public sealed class OtlpHttpReceiverTests
{
    private const string ApiKey = "dashboard-key-5f2c";
    private static readonly byte[] TraceId = Convert.FromHexString("4BF92F3577B34DA6A3CE929D0E0E4736");
    private static readonly byte[] SpanId = Convert.FromHexString("00F067AA0BA902B7");

    private static ByteArrayContent Protobuf(byte[] body, string contentType = "application/x-protobuf")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static HttpRequestMessage Post(string path, HttpContent content, string? apiKey = ApiKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (apiKey is not null)
        {
            request.Headers.Add(OtlpHttpReceiver.ApiKeyHeader, apiKey);
        }
        return request;
    }

    /// <summary>The message of the google.rpc.Status an OTLP error response carries (field 2).</summary>
    private static async Task<string> StatusMessageAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        var fields = Otlp.ParseFields(await response.Content.ReadAsByteArrayAsync());
        return Encoding.UTF8.GetString((byte[])fields.Single(field => field.Field == 2).Value);
    }

    private static TracerProvider SdkExportingTo(OtlpReceiverHost host, string sourceName, string apiKey) =>
        Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty()
                .AddService(serviceName: "otlp-e2e-service", serviceInstanceId: "instance-7"))
            .AddSource(sourceName)
            .SetSampler(new AlwaysOnSampler())
            .AddOtlpExporter(options =>
            {
                // Set in code, the endpoint is used as is: the signal path is part of it.
                options.Endpoint = new Uri(host.Address, "/v1/traces");
                options.Protocol = OtlpExportProtocol.HttpProtobuf;
                options.Headers = $"{OtlpHttpReceiver.ApiKeyHeader}={apiKey}";
            })
            .Build();

    [Fact]
    public async Task Spans_exported_by_the_OpenTelemetry_sdk_over_http_protobuf_land_in_the_store()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var sourceName = $"CremaD.Tests.Otlp.{Guid.NewGuid():N}";
        using var source = new ActivitySource(sourceName, "9.9.9");
        var runId = Guid.NewGuid().ToString();
        string traceId, parentId, childId;

        using (var provider = SdkExportingTo(host, sourceName, ApiKey))
        {
            using (var run = source.StartActivity("cremad.run", ActivityKind.Server))
            {
                Assert.NotNull(run);
                run.SetTag("cremad.run_id", runId);
                using (var epoch = source.StartActivity("train epoch", ActivityKind.Internal))
                {
                    Assert.NotNull(epoch);
                    epoch.SetTag("cremad.run_id", runId);
                    epoch.SetTag("cremad.epoch", 3);
                    epoch.SetTag("loss", 0.5);
                    epoch.SetTag("early_stop", true);
                    epoch.SetTag("classes", new[] { "ANG", "SAD" });
                    epoch.AddEvent(new ActivityEvent("checkpoint saved", tags: new ActivityTagsCollection
                    {
                        ["path"] = "best.pt",
                        ["epoch"] = 3,
                    }));
                    epoch.SetStatus(ActivityStatusCode.Error, "validation loss is NaN");
                    childId = epoch.SpanId.ToHexString();
                }
                run.SetStatus(ActivityStatusCode.Ok);
                traceId = run.TraceId.ToHexString();
                parentId = run.SpanId.ToHexString();
            }
            Assert.True(provider.ForceFlush(30_000), "the SDK did not flush");
        }

        var spans = host.Store.GetTrace(traceId);
        Assert.NotNull(spans);
        Assert.Equal(2, spans.Count);
        var (parent, child) = (spans[0], spans[1]);

        Assert.Equal(parentId, parent.SpanId);
        Assert.Null(parent.ParentSpanId);
        Assert.Equal("cremad.run", parent.Name);
        Assert.Equal("server", parent.Kind);
        Assert.Equal("ok", parent.StatusCode);
        Assert.Equal(childId, child.SpanId);
        Assert.Equal(parentId, child.ParentSpanId);
        Assert.Equal("train epoch", child.Name);
        Assert.Equal("internal", child.Kind);
        Assert.All(spans, span =>
        {
            Assert.Equal(traceId, span.TraceId);
            Assert.Equal("otlp-e2e-service", span.ServiceName);
            Assert.Equal("instance-7", span.ServiceInstanceId);
            Assert.Equal(sourceName, span.Scope);
            Assert.True(span.End >= span.Start);
            Assert.InRange(span.Start, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow);
        });
        Assert.True(parent.Start <= child.Start && child.End <= parent.End, "the child is not inside its parent");

        Assert.Equal(runId, child.Attributes["cremad.run_id"]);
        Assert.Equal("3", child.Attributes["cremad.epoch"]);
        Assert.Equal("0.5", child.Attributes["loss"]);
        Assert.Equal("true", child.Attributes["early_stop"]);
        Assert.Equal("""["ANG","SAD"]""", child.Attributes["classes"]);
        Assert.Equal("error", child.StatusCode);
        Assert.Equal("validation loss is NaN", child.StatusMessage);
        var checkpoint = Assert.Single(child.Events);
        Assert.Equal("checkpoint saved", checkpoint.Name);
        Assert.Equal("best.pt", checkpoint.Attributes["path"]);
        Assert.Equal("3", checkpoint.Attributes["epoch"]);
        Assert.InRange(checkpoint.Time, child.Start, child.End);

        var summary = Assert.Single(host.Store.ListTraces());
        Assert.Equal("cremad.run", summary.RootName);
        Assert.Equal(runId, summary.RunId);
        Assert.Equal(["otlp-e2e-service"], summary.Services);
        Assert.Equal(2, summary.SpanCount);
        Assert.Equal(1, summary.ErrorCount);
        Assert.Equal(summary, Assert.Single(host.Store.ListTraces(service: "otlp-e2e-service", runId: runId)));
    }

    [Fact]
    public async Task A_wrong_or_missing_api_key_gets_401_and_stores_nothing()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var payload = Otlp.SingleSpanRequest("svc", TraceId, SpanId, "s");

        using var wrong = await host.Http.SendAsync(Post("/v1/traces", Protobuf(payload), apiKey: "not-the-key"));
        using var missing = await host.Http.SendAsync(Post("/v1/traces", Protobuf(payload), apiKey: null));
        using var logs = await host.Http.SendAsync(Post("/v1/logs", Protobuf([]), apiKey: "not-the-key"));

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains(OtlpHttpReceiver.ApiKeyHeader, await StatusMessageAsync(wrong));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, logs.StatusCode);

        // The real exporter with the wrong key: its export is refused too.
        var sourceName = $"CremaD.Tests.Otlp.{Guid.NewGuid():N}";
        using var source = new ActivitySource(sourceName);
        using (var provider = SdkExportingTo(host, sourceName, "not-the-key"))
        {
            using (source.StartActivity("refused"))
            {
            }
            provider.ForceFlush(30_000);
        }

        Assert.Equal(0, host.Store.SpanCount);
        Assert.Empty(host.Store.ListTraces());
    }

    [Fact]
    public async Task An_empty_api_key_is_refused_when_mapping()
    {
        await using var app = WebApplication.CreateSlimBuilder().Build();

        var error = Assert.Throws<ArgumentException>(() => app.MapOtlpHttpReceiver(new TraceStore(), ""));

        Assert.Equal("apiKey", error.ParamName);
    }

    [Fact]
    public async Task Without_a_configured_key_requests_need_no_header()
    {
        await using var host = await OtlpReceiverHost.StartAsync(apiKey: null);

        using var response = await host.Http.SendAsync(
            Post("/v1/traces", Protobuf(Otlp.SingleSpanRequest("svc", TraceId, SpanId, "keyless")), apiKey: null));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("keyless", Assert.Single(host.Store.GetTrace(Convert.ToHexStringLower(TraceId))!).Name);
    }

    [Fact]
    public async Task Otlp_json_gets_415_saying_only_protobuf_is_supported()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var json = """{"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[]}]}""";

        using var response = await host.Http.SendAsync(Post("/v1/traces", new StringContent(json, Encoding.UTF8, "application/json")));
        using var noType = await host.Http.SendAsync(Post("/v1/traces", new ByteArrayContent([])));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var message = await response.Content.ReadAsStringAsync();
        Assert.Contains("supports only protobuf (application/x-protobuf)", message);
        Assert.Contains("application/json", message);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, noType.StatusCode);
        Assert.Equal(0, host.Store.SpanCount);
    }

    [Fact]
    public async Task A_valid_export_gets_200_with_an_empty_protobuf_response()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);

        using var response = await host.Http.SendAsync(Post("/v1/traces", Protobuf(Otlp.SingleSpanRequest("svc", TraceId, SpanId, "s"))));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, host.Store.SpanCount);
    }

    [Fact]
    public async Task A_gzip_compressed_export_is_accepted()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(Otlp.SingleSpanRequest("zipped-service", TraceId, SpanId, "compressed span"));
        }
        var content = Protobuf(compressed.ToArray());
        content.Headers.ContentEncoding.Add("gzip");

        using var response = await host.Http.SendAsync(Post("/v1/traces", content));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var span = Assert.Single(host.Store.GetTrace(Convert.ToHexStringLower(TraceId))!);
        Assert.Equal("compressed span", span.Name);
        Assert.Equal("zipped-service", span.ServiceName);
    }

    [Fact]
    public async Task Bad_gzip_and_unsupported_encodings_are_refused()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var notGzip = Protobuf(Otlp.SingleSpanRequest("svc", TraceId, SpanId, "s"));
        notGzip.Headers.ContentEncoding.Add("gzip");
        var brotli = Protobuf([1, 2, 3]);
        brotli.Headers.ContentEncoding.Add("br");

        using var badGzip = await host.Http.SendAsync(Post("/v1/traces", notGzip));
        using var unsupported = await host.Http.SendAsync(Post("/v1/traces", brotli));

        Assert.Equal(HttpStatusCode.BadRequest, badGzip.StatusCode);
        Assert.StartsWith("The body is not valid gzip", await StatusMessageAsync(badGzip));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, unsupported.StatusCode);
        Assert.Contains("Unsupported Content-Encoding 'br'", await StatusMessageAsync(unsupported));
    }

    [Fact]
    public async Task A_malformed_payload_gets_400_naming_the_problem()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);

        using var response = await host.Http.SendAsync(Post("/v1/traces", Protobuf([0x0A, 0x05, 0x01, 0x02])));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(
            "Malformed OTLP protobuf in ExportTraceServiceRequest at byte 1: length 5 exceeds the 2 bytes left.",
            await StatusMessageAsync(response));
        Assert.Equal(0, host.Store.SpanCount);
    }

    [Fact]
    public async Task Spans_with_invalid_ids_are_reported_as_partial_success()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var payload = Otlp.Request(Otlp.ResourceSpans(Otlp.Resource(), Otlp.ScopeSpans("s",
            Otlp.Span(TraceId, SpanId, "good", 1_000, 2_000),
            Otlp.Span(new byte[16], SpanId, "zero trace id", 1_000, 2_000))));

        using var response = await host.Http.SendAsync(Post("/v1/traces", Protobuf(payload)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // ExportTraceServiceResponse { partial_success = 1 { int64 rejected_spans = 1; string error_message = 2 } }
        var partialSuccess = (byte[])Assert.Single(Otlp.ParseFields(await response.Content.ReadAsByteArrayAsync()), f => f.Field == 1).Value;
        var fields = Otlp.ParseFields(partialSuccess);
        Assert.Equal(1UL, fields.Single(f => f.Field == 1).Value);
        Assert.Contains("span 'zero trace id' has an invalid trace_id", Encoding.UTF8.GetString((byte[])fields.Single(f => f.Field == 2).Value));
        Assert.Equal("good", Assert.Single(host.Store.GetTrace(Convert.ToHexStringLower(TraceId))!).Name);
    }

    [Fact]
    public async Task Bodies_over_16_MiB_get_413_whether_sent_so_or_inflated_from_gzip()
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var tooLarge = new byte[OtlpHttpReceiver.MaxBodyBytes + 1];
        var bomb = new MemoryStream();
        using (var gzip = new GZipStream(bomb, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(tooLarge);
        }
        var bombContent = Protobuf(bomb.ToArray());
        bombContent.Headers.ContentEncoding.Add("gzip");

        // Expect: 100-continue lets the server refuse on Content-Length before the client sends the body.
        var direct = Post("/v1/traces", Protobuf(tooLarge));
        direct.Headers.ExpectContinue = true;
        using var directResponse = await host.Http.SendAsync(direct);
        using var bombResponse = await host.Http.SendAsync(Post("/v1/traces", bombContent));

        Assert.True(bomb.Length < 100_000, $"the compressed body is {bomb.Length} bytes");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, directResponse.StatusCode);
        Assert.Contains("exceeds 16 MiB", await StatusMessageAsync(directResponse));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bombResponse.StatusCode);
        Assert.Equal(0, host.Store.SpanCount);
    }

    [Theory]
    [InlineData("/v1/logs")]
    [InlineData("/v1/metrics")]
    public async Task Logs_and_metrics_are_accepted_and_discarded(string path)
    {
        await using var host = await OtlpReceiverHost.StartAsync(ApiKey);
        var version = host.Store.Version;

        // Any protobuf body: it is not decoded. Here a trace request, which must not reach the trace store.
        using var response = await host.Http.SendAsync(Post(path, Protobuf(Otlp.SingleSpanRequest("svc", TraceId, SpanId, "s"))));
        using var json = await host.Http.SendAsync(Post(path, new StringContent("{}", Encoding.UTF8, "application/json")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Equal(0, host.Store.SpanCount);
        Assert.Equal(version, host.Store.Version);
    }
}
