using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using CremaD.Testing;
using CremaD.Telemetry;

namespace CremaD.ServiceDefaults.Tests;

public sealed class OpenTelemetryTests
{
    private const string OtlpAssembly = "OpenTelemetry.Exporter.OpenTelemetryProtocol";

    /// <summary>Services registered by the OTLP exporter package: any type in a registration that comes from its assembly.</summary>
    private static int OtlpRegistrations(IServiceCollection services) =>
        services.Count(descriptor => TypesOf(descriptor).Any(type => type.Assembly.GetName().Name == OtlpAssembly));

    private static IEnumerable<Type> TypesOf(ServiceDescriptor descriptor)
    {
        IEnumerable<Type> WithArguments(Type? type) =>
            type is null ? [] : type.GenericTypeArguments.SelectMany(WithArguments).Prepend(type);

        var types = WithArguments(descriptor.ServiceType);
        if (descriptor.IsKeyedService)
        {
            return types.Concat(WithArguments(descriptor.KeyedImplementationType))
                .Concat(WithArguments(descriptor.KeyedImplementationInstance?.GetType()))
                .Concat(WithArguments(descriptor.KeyedImplementationFactory?.Method.DeclaringType));
        }
        return types.Concat(WithArguments(descriptor.ImplementationType))
            .Concat(WithArguments(descriptor.ImplementationInstance?.GetType()))
            .Concat(WithArguments(descriptor.ImplementationFactory?.Method.DeclaringType));
    }

    [Fact]
    public void The_otlp_exporter_is_registered_only_when_an_endpoint_is_configured()
    {
        var without = TestApp.CreateBuilder();
        without.AddServiceDefaults();
        var with = TestApp.CreateBuilder(new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317" });
        with.AddServiceDefaults();

        Assert.Equal(0, OtlpRegistrations(without.Services));
        Assert.True(OtlpRegistrations(with.Services) > 0);
    }

    [Theory]
    [InlineData("http/protobuf", "/v1/traces", "application/x-protobuf")]
    [InlineData("grpc", "/opentelemetry.proto.collector.trace.v1.TraceService/Export", "application/grpc")]
    public async Task Spans_reach_the_configured_otlp_endpoint_with_its_protocol_headers_and_service_name(
        string protocol, string tracesPath, string contentType)
    {
        await using var receiver = await OtlpReceiver.StartAsync(grpc: protocol == "grpc");
        var builder = TestApp.CreateBuilder(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol,
            ["OTEL_EXPORTER_OTLP_HEADERS"] = "x-otlp-api-key=dashboard-key-123",
            ["OTEL_SERVICE_NAME"] = "cremad-otlp-probe",
        });
        builder.AddServiceDefaults();
        await using var app = await TestApp.StartAsync(builder);
        var spanName = $"otlp-probe-{Guid.NewGuid():N}";

        using (CremaDTelemetry.Training.StartRunActivity(spanName, Guid.NewGuid()))
        {
        }
        app.Services.GetRequiredService<TracerProvider>().ForceFlush((int)TestApp.Timeout.TotalMilliseconds);

        var export = await receiver.WaitForAsync(r => r.Path == tracesPath && r.Mentions(spanName), $"to {tracesPath} with span {spanName}");
        Assert.Equal("dashboard-key-123", export.Headers["x-otlp-api-key"]);
        Assert.StartsWith(contentType, export.ContentType);
        Assert.True(export.Mentions("cremad-otlp-probe"), "the export does not carry OTEL_SERVICE_NAME");
        Assert.True(export.Mentions(CremaDTelemetry.TrainingName), "the export does not name the span's source");
    }

    [Fact]
    public async Task CremaD_sources_are_traced_and_health_probes_are_not()
    {
        var spans = new List<Activity>();
        var builder = TestApp.CreateBuilder();
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
        await using var app = await TestApp.StartAsync(builder, web => web.MapGet("/ping", () => "pong"));
        var runId = Guid.NewGuid();
        using var ownLibrarySource = new ActivitySource("CremaD.SomeLibrary");
        using var foreignSource = new ActivitySource("Someone.Else");

        using (CremaDTelemetry.Features.StartRunActivity("extract-shard", runId))
        using (ownLibrarySource.StartActivity("library-step")?.SetTag(CremaDTelemetry.RunIdTag, runId.ToString("D")))
        using (foreignSource.StartActivity("foreign-step")?.SetTag(CremaDTelemetry.RunIdTag, runId.ToString("D")))
        {
        }
        Assert.Equal((200, "Healthy"), await app.GetAsync("/health"));
        Assert.Equal((200, "Healthy"), await app.GetAsync("/alive"));
        Assert.Equal((200, "pong"), await app.GetAsync("/ping"));

        // The server's span ends just after the response is sent.
        var deadline = DateTime.UtcNow + TestApp.Timeout;
        while (Snapshot().All(s => RequestPath(s) != "/ping") && DateTime.UtcNow < deadline) await Task.Delay(50);
        var captured = Snapshot();

        var ofRun = captured.Where(s => (string?)s.GetTagItem(CremaDTelemetry.RunIdTag) == runId.ToString("D")).ToList();
        Assert.Equal(["extract-shard", "library-step"], ofRun.Select(s => s.DisplayName).Order());
        Assert.Equal(CremaDTelemetry.FeaturesName, ofRun.Single(s => s.DisplayName == "extract-shard").Source.Name);
        var requests = captured.Select(RequestPath).Where(path => path is not null).ToList();
        Assert.Contains("/ping", requests);
        Assert.DoesNotContain("/health", requests);
        Assert.DoesNotContain("/alive", requests);

        List<Activity> Snapshot()
        {
            lock (spans) return [.. spans];
        }
    }

    private static string? RequestPath(Activity span) =>
        span.Kind == ActivityKind.Server ? span.GetTagItem("url.path") as string : null;

    [Fact]
    public async Task CremaD_and_MassTransit_meters_are_collected_and_foreign_ones_are_not()
    {
        var metrics = new List<MetricSnapshot>();
        var builder = TestApp.CreateBuilder();
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryMeterProvider(meters => meters.AddInMemoryExporter(metrics));
        await using var app = await TestApp.StartAsync(builder);
        var suffix = Guid.NewGuid().ToString("N");
        using var foreign = new Meter("Someone.Else");
        // MassTransit's own instruments live in a process-wide meter bound to the first host that built a bus, so
        // a meter of the same name stands in for it here.
        using var massTransit = new Meter(CremaDTelemetry.MassTransitName);

        CremaDTelemetry.FeaturesMeter.CreateCounter<long>($"cremad.test.clips_extracted.{suffix}").Add(256);
        massTransit.CreateCounter<long>($"messaging.masstransit.test.{suffix}").Add(1);
        foreign.CreateCounter<long>($"foreign.counter.{suffix}").Add(1);
        app.Services.GetRequiredService<MeterProvider>().ForceFlush((int)TestApp.Timeout.TotalMilliseconds);

        List<MetricSnapshot> captured;
        lock (metrics) captured = [.. metrics];
        var clips = Assert.Single(captured, m => m.Name == $"cremad.test.clips_extracted.{suffix}");
        Assert.Equal(CremaDTelemetry.FeaturesName, clips.MeterName);
        long total = 0;
        foreach (var point in clips.MetricPoints) total += point.GetSumLong();
        Assert.Equal(256, total);
        Assert.DoesNotContain(captured, m => m.Name == $"foreign.counter.{suffix}");
        Assert.Contains(captured, m => m.Name == $"messaging.masstransit.test.{suffix}" && m.MeterName == CremaDTelemetry.MassTransitName);
        // ASP.NET Core's and the runtime's instruments are on as well.
        Assert.Contains(captured, m => m.MeterName == "System.Runtime");
    }

    [Fact]
    public async Task Logs_carry_their_formatted_message_and_scopes()
    {
        var logs = new List<LogRecord>();
        var builder = TestApp.CreateBuilder();
        builder.AddServiceDefaults();
        builder.Services.ConfigureOpenTelemetryLoggerProvider(logging => logging.AddInMemoryExporter(logs));
        await using var app = await TestApp.StartAsync(builder);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CremaD.Features.Tests");
        var runId = Guid.NewGuid();

        using (logger.BeginScope(new Dictionary<string, object> { ["RunId"] = runId }))
        {
            logger.LogInformation("Shard {ShardIndex} of {ShardCount} extracted", 3, 29);
        }
        app.Services.GetRequiredService<LoggerProvider>().ForceFlush((int)TestApp.Timeout.TotalMilliseconds);

        LogRecord record;
        lock (logs) record = Assert.Single(logs, l => l.CategoryName == "CremaD.Features.Tests");
        Assert.Equal("Shard 3 of 29 extracted", record.FormattedMessage);
        var scopes = new List<KeyValuePair<string, object?>>();
        record.ForEachScope((scope, state) => { foreach (var item in scope) state.Add(item); }, scopes);
        Assert.Contains(new KeyValuePair<string, object?>("RunId", runId), scopes);
    }
}
