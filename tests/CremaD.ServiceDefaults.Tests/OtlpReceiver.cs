using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using CremaD.Testing;

namespace CremaD.ServiceDefaults.Tests;

/// <summary>
/// A minimal OTLP collector on a free loopback port, standing in for the Aspire dashboard: it records every export
/// request (path, headers, body) and acknowledges it, over HTTP/1.1 for <c>http/protobuf</c> or over cleartext
/// HTTP/2 with gRPC framing and trailers for <c>grpc</c>.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    public sealed record ExportRequest(string Path, string? ContentType, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        /// <summary>Protobuf stores strings as UTF-8 bytes, so a span or service name can be found without decoding.</summary>
        public bool Mentions(string text) => Body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
    }

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ExportRequest> _requests;

    private OtlpReceiver(WebApplication app, ConcurrentQueue<ExportRequest> requests, string endpoint)
    {
        _app = app;
        _requests = requests;
        Endpoint = endpoint;
    }

    /// <summary>http://127.0.0.1:&lt;port&gt;, the value for OTEL_EXPORTER_OTLP_ENDPOINT.</summary>
    public string Endpoint { get; }

    public IReadOnlyCollection<ExportRequest> Requests => _requests;

    public static async Task<OtlpReceiver> StartAsync(bool grpc)
    {
        var requests = new ConcurrentQueue<ExportRequest>();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = grpc ? HttpProtocols.Http2 : HttpProtocols.Http1));
        var app = builder.Build();
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            requests.Enqueue(new ExportRequest(
                context.Request.Path.Value ?? "",
                context.Request.ContentType,
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                body.ToArray()));
            if (grpc)
            {
                context.Response.ContentType = "application/grpc";
                context.Response.DeclareTrailer("grpc-status");
                // One uncompressed, empty Export*ServiceResponse message: flag 0, length 0.
                await context.Response.Body.WriteAsync(new byte[5]);
                context.Response.AppendTrailer("grpc-status", "0");
            }
            else
            {
                context.Response.ContentType = "application/x-protobuf";
                context.Response.StatusCode = StatusCodes.Status200OK;
            }
        });
        await app.StartAsync();
        var endpoint = app.Urls.Single().TrimEnd('/');
        return new OtlpReceiver(app, requests, endpoint);
    }

    /// <summary>The first request that matches, waiting for it up to <see cref="TestApp.Timeout"/>.</summary>
    public async Task<ExportRequest> WaitForAsync(Func<ExportRequest, bool> predicate, string description)
    {
        var deadline = DateTime.UtcNow + TestApp.Timeout;
        while (DateTime.UtcNow < deadline)
        {
            var match = _requests.FirstOrDefault(predicate);
            if (match is not null) return match;
            await Task.Delay(100);
        }
        throw new TimeoutException(
            $"No OTLP export request {description} arrived within {TestApp.Timeout.TotalSeconds:0} s; received: " +
            string.Join(", ", _requests.Select(r => $"{r.Path} ({r.Body.Length} bytes)")));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
