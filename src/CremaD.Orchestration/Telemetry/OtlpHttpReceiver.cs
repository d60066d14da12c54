using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace CremaD.Orchestration.Telemetry;

/// <summary>
/// The dashboard's OTLP/HTTP endpoint (what Aspire's dashboard serves on port 18890): services export with
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf</c> and, when the AppHost sets an API key, send it in the
/// <c>x-otlp-api-key</c> header through <c>OTEL_EXPORTER_OTLP_HEADERS</c>, as Aspire does.
/// Only binary protobuf is accepted (OTLP/JSON gets 415), optionally gzip-compressed; bodies larger than
/// <see cref="MaxBodyBytes"/> (after decompression) get 413. Errors follow the OTLP/HTTP specification: the body of
/// a 4xx answer to a protobuf request is a protobuf google.rpc.Status whose message says what was wrong; other
/// requests get the message as plain text.
/// </summary>
public static class OtlpHttpReceiver
{
    /// <summary>The header that carries the API key (Aspire's name for it).</summary>
    public const string ApiKeyHeader = "x-otlp-api-key";

    /// <summary>The largest request body accepted, after decompression.</summary>
    public const int MaxBodyBytes = 16 * 1024 * 1024;

    private const string ProtobufContentType = "application/x-protobuf";
    private const string LoggerCategory = "CremaD.Orchestration.Telemetry.OtlpHttpReceiver";

    /// <summary>
    /// Maps <c>POST /v1/traces</c> (stored in <paramref name="store"/>), <c>POST /v1/logs</c> and
    /// <c>POST /v1/metrics</c> (accepted and discarded).
    /// </summary>
    /// <param name="apiKey">When not null, requests must carry it in <see cref="ApiKeyHeader"/> (401 otherwise).</param>
    public static IEndpointRouteBuilder MapOtlpHttpReceiver(this IEndpointRouteBuilder endpoints, TraceStore store, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(store);
        if (apiKey is { Length: 0 })
        {
            throw new ArgumentException("The OTLP API key must not be empty; pass null to accept requests without a key.", nameof(apiKey));
        }
        var expectedKey = apiKey is null ? null : Encoding.UTF8.GetBytes(apiKey);

        endpoints.MapPost("/v1/traces", context => ReceiveTracesAsync(context, store, expectedKey));
        // Logs and metrics are accepted so that services exporting all three signals see no errors, and dropped:
        // the dashboard shows each process's console output as its log, and has no metrics view.
        endpoints.MapPost("/v1/logs", context => DiscardAsync(context, expectedKey));
        endpoints.MapPost("/v1/metrics", context => DiscardAsync(context, expectedKey));
        return endpoints;
    }

    private static async Task ReceiveTracesAsync(HttpContext context, TraceStore store, byte[]? expectedKey)
    {
        var body = await ReadBodyAsync(context, expectedKey, keep: true);
        if (body is null)
        {
            return;
        }
        OtlpTraceExport export;
        try
        {
            export = OtlpProtobufReader.ReadExportTraceServiceRequest(body.GetBuffer().AsSpan(0, (int)body.Length));
        }
        catch (OtlpFormatException error)
        {
            Logger(context).LogWarning("Rejected an OTLP trace export from {Remote}: {Reason}", context.Connection.RemoteIpAddress, error.Message);
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, error.Message);
            return;
        }
        store.Add(export.Spans);

        // ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }, empty when all was accepted;
        // ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }.
        var response = new ProtobufWireWriter();
        if (export.RejectedSpans > 0)
        {
            response.Message(1, new ProtobufWireWriter()
                .Varint(1, (ulong)export.RejectedSpans)
                .String(2, $"{export.RejectedSpans} span(s) rejected; first: {export.RejectionMessage}"));
        }
        await WriteProtobufAsync(context, StatusCodes.Status200OK, response.ToArray());
    }

    private static async Task DiscardAsync(HttpContext context, byte[]? expectedKey)
    {
        if (await ReadBodyAsync(context, expectedKey, keep: false) is null)
        {
            return;
        }
        // An empty Export{Logs,Metrics}ServiceResponse: full success.
        await WriteProtobufAsync(context, StatusCodes.Status200OK, []);
    }

    /// <summary>
    /// Checks the key, the content type and encoding and the size, and reads the (decompressed) body; null when the
    /// request was refused and the answer already written. With <paramref name="keep"/> false the body is read and
    /// thrown away (the connection stays reusable) and an empty stream returned.
    /// </summary>
    private static async Task<MemoryStream?> ReadBodyAsync(HttpContext context, byte[]? expectedKey, bool keep)
    {
        var request = context.Request;
        if (expectedKey is not null && !HasKey(request, expectedKey))
        {
            await WriteErrorAsync(context, StatusCodes.Status401Unauthorized,
                $"Missing or wrong {ApiKeyHeader} header: this OTLP endpoint requires the AppHost's API key (OTEL_EXPORTER_OTLP_HEADERS).");
            return null;
        }

        if (!IsProtobuf(request))
        {
            var mediaType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value : null;
            var what = mediaType is null ? "a request without Content-Type" : $"Content-Type '{mediaType}'";
            await WriteErrorAsync(context, StatusCodes.Status415UnsupportedMediaType,
                $"This OTLP endpoint supports only protobuf ({ProtobufContentType}), not {what}: "
                + "set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (or grpc), not http/json.");
            return null;
        }

        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        var gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || encoding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase);
        if (!gzip && encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            await WriteErrorAsync(context, StatusCodes.Status415UnsupportedMediaType,
                $"Unsupported Content-Encoding '{encoding}': send gzip or uncompressed.");
            return null;
        }

        if (request.ContentLength > MaxBodyBytes)
        {
            await WriteTooLargeAsync(context);
            return null;
        }
        // Let the server stop a longer chunked body itself (BadHttpRequestException with 413 below).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = MaxBodyBytes;
        }

        var body = new MemoryStream();
        try
        {
            await using var decompressor = gzip ? new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true) : null;
            var source = decompressor ?? request.Body;
            var buffer = new byte[64 * 1024];
            long total = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                total += read;
                if (total > MaxBodyBytes)
                {
                    // Also what stops a small gzip body that inflates to gigabytes.
                    await WriteTooLargeAsync(context);
                    return null;
                }
                if (keep)
                {
                    body.Write(buffer, 0, read);
                }
            }
        }
        catch (InvalidDataException error)
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, $"The body is not valid gzip: {error.Message}");
            return null;
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteTooLargeAsync(context);
            return null;
        }
        return body;
    }

    private static bool HasKey(HttpRequest request, byte[] expectedKey)
    {
        var values = request.Headers[ApiKeyHeader];
        if (values.Count != 1 || values[0] is not { } given)
        {
            return false;
        }
        // Constant-time comparison: the time taken says nothing about how much of a guess was right.
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), expectedKey);
    }

    private static bool IsProtobuf(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
        && (mediaType.MediaType.Equals(ProtobufContentType, StringComparison.OrdinalIgnoreCase)
            || mediaType.MediaType.Equals("application/protobuf", StringComparison.OrdinalIgnoreCase));

    private static Task WriteTooLargeAsync(HttpContext context) =>
        WriteErrorAsync(context, StatusCodes.Status413PayloadTooLarge,
            $"The OTLP request body exceeds {MaxBodyBytes / (1024 * 1024)} MiB (after decompression); export smaller batches.");

    private static Task WriteErrorAsync(HttpContext context, int statusCode, string message)
    {
        if (IsProtobuf(context.Request))
        {
            // google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
            return WriteProtobufAsync(context, statusCode, new ProtobufWireWriter().String(2, message).ToArray());
        }
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message + "\n", context.RequestAborted);
    }

    private static async Task WriteProtobufAsync(HttpContext context, int statusCode, byte[] body)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = ProtobufContentType;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetService<ILoggerFactory>()?.CreateLogger(LoggerCategory) ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
}
