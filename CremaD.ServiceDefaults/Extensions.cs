using CremaD.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The Aspire service-defaults every CremaD service host starts with (the template's Extensions.cs, in its namespace so
/// that <c>builder.AddServiceDefaults()</c> needs no using): OpenTelemetry, health checks, service discovery and
/// resilient HttpClients, nothing else. A service's Program.cs is, as in eShop:
/// <code>
/// var builder = WebApplication.CreateBuilder(args);
/// builder.AddServiceDefaults();
/// builder.AddCremaDFeatureService();                             // the service's library: blob store, bus, consumers
/// var app = builder.Build();
/// app.MapDefaultEndpoints();                                     // /health and /alive
/// app.Run();
/// </code>
/// Every service, including the queue workers that serve no API, is such a small WebApplication: it then has the
/// /health and /alive endpoints that the AppHost's WaitFor, Container Apps probes and azd expect, and one shape
/// to learn. <see cref="AddServiceDefaults{TBuilder}"/> also works on a plain HostApplicationBuilder (telemetry,
/// health checks, HttpClient defaults), but such a host has no endpoint to report health on. The bus
/// (CremaD.Messaging) and the blob store (CremaD.Storage.Hosting) are registered by the service libraries; their
/// health checks, tagged <see cref="HealthCheckTags.Ready"/>, are what /health adds to /alive.
/// </summary>
public static class Extensions
{
    /// <summary>All health checks: 200 "Healthy" when every check passes (readiness).</summary>
    public const string HealthEndpointPath = "/health";

    /// <summary>Checks tagged <see cref="HealthCheckTags.Live"/> only: 200 "Healthy" while the process can serve at all (liveness).</summary>
    public const string AlivenessEndpointPath = "/alive";

    /// <summary>Name of the configuration value that switches the OTLP exporter on.</summary>
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>
    /// OpenTelemetry, the default health checks, service discovery, and resilience + service discovery on every
    /// HttpClient from IHttpClientFactory.
    /// </summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();

        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // Retries with backoff, circuit breaker and timeouts; then "http://runs-api" resolves through
            // the services__runs-api__http__0 setting the AppHost (or azd) provides.
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    /// <summary>
    /// Logs (formatted messages and scopes), metrics (ASP.NET Core, HttpClient, runtime, MassTransit, CremaD.*) and
    /// traces (the application's own source, CremaD.*, MassTransit, Azure SDK, ASP.NET Core without the health
    /// endpoints, HttpClient); exported over OTLP only when <see cref="OtlpEndpointSetting"/> is configured.
    /// </summary>
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Azure.Core reads this switch once, at its first traced call: set it before any SDK client exists.
        AzureSdkTracing.Enable();

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        var openTelemetry = builder.Services.AddOpenTelemetry();
        // The AppHost names the service with OTEL_SERVICE_NAME; started by hand, it is named after its assembly
        // rather than "unknown_service".
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"]))
        {
            openTelemetry.ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName));
        }

        openTelemetry
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter(CremaDTelemetry.MassTransitName)
                .AddMeter(CremaDTelemetry.AllSourcesPattern))
            .WithTracing(tracing => tracing
                // Parent-based even when the AppHost sets OTEL_TRACES_SAMPLER=always_on: the storage calls a dropped
                // /health request makes (the blob health check) must be dropped with it, not show up as traces of their own.
                .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()))
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(CremaDTelemetry.AllSourcesPattern)
                .AddSource(CremaDTelemetry.MassTransitName)
                .AddSource(AzureSdkTracing.ActivitySourceNamePattern)
                .AddAspNetCoreInstrumentation(aspNetCore =>
                    // Probes poll these every few seconds; their spans would drown the ones that matter.
                    aspNetCore.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath)
                        && !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointSetting]))
        {
            // One exporter for logs, metrics and traces. It reads OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL
            // (grpc or http/protobuf) and _HEADERS from configuration, i.e. from the environment the AppHost sets.
            openTelemetry.UseOtlpExporter();
        }
        return builder;
    }

    /// <summary>The <c>self</c> check, tagged <see cref="HealthCheckTags.Live"/>: the process answers.</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [HealthCheckTags.Live]);
        return builder;
    }

    /// <summary>
    /// Maps <see cref="HealthEndpointPath"/> (every check) and <see cref="AlivenessEndpointPath"/> (live checks) in
    /// every environment, unlike the template: Container Apps probes and the AppHost's WaitFor call them in
    /// production too. They reveal only "Healthy", "Degraded" or "Unhealthy".
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions
        {
            Predicate = registration => registration.Tags.Contains(HealthCheckTags.Live),
        });
        return app;
    }
}
