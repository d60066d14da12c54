using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.Orchestration.Resources;

/// <summary>
/// The embedded mode's one service host: the runs API, coordinator, feature processing, trainer and evaluator in the
/// AppHost's own process on MassTransit's in-memory transport (there is no broker) — the same registrations as the
/// four service hosts (<c>AddCremaDAllServices</c>). It gets the same Aspire-style settings a service process would,
/// as configuration instead of environment variables; its log lines go to its console log.
/// </summary>
public sealed class EmbeddedServicesResource(string name, int httpPort, IReadOnlyDictionary<string, string> settings,
    IReadOnlyList<Resource> dependsOn)
    : Resource(name, ResourceKind.InProcess, "runs-api + feature, trainer and evaluation services in the AppHost process", dependsOn)
{
    private WebApplication? _app;

    public Uri HttpEndpoint { get; } = new($"http://localhost:{httpPort}");

    public override IReadOnlyList<string> Endpoints => [HttpEndpoint.ToString()];

    public override IReadOnlyDictionary<string, string> ReferenceEnvironment =>
        new Dictionary<string, string> { [$"services__{Name}__http__0"] = HttpEndpoint.ToString().TrimEnd('/') };

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ResourceState.Starting);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = "CremaD.EmbeddedServices",
            EnvironmentName = Environments.Development,
            ContentRootPath = AppContext.BaseDirectory,
        });
        var configuration = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var dependency in DependsOn)
        {
            foreach (var (key, value) in dependency.ReferenceEnvironment) configuration[key.Replace("__", ":", StringComparison.Ordinal)] = value;
        }
        foreach (var (key, value) in settings) configuration[key.Replace("__", ":", StringComparison.Ordinal)] = value;
        configuration["Messaging:Transport"] = "InMemory";
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.WebHost.UseUrls(HttpEndpoint.ToString());
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new LogBufferLoggerProvider(Logs));
        builder.AddCremaDAllServices();
        var app = builder.Build();
        app.MapCremaDRunsApi();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        SetProcess(Environment.ProcessId);
        SetState(ResourceState.Running);
    }

    public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) =>
        HealthEndpointProbe.IsHealthyAsync(HttpEndpoint, cancellationToken);

    public override async Task StopAsync()
    {
        SetState(ResourceState.Stopping);
        if (_app is not null)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await _app.StopAsync(limit.Token).ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
        SetState(ResourceState.Stopped);
    }

    /// <summary>Writes log entries as console lines (<c>level: category: message</c>) into a resource's log.</summary>
    private sealed class LogBufferLoggerProvider(LogBuffer logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new LogBufferLogger(logs, categoryName);

        public void Dispose()
        {
        }

        private sealed class LogBufferLogger(LogBuffer logs, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) =>
                logLevel >= (category.StartsWith("Microsoft", StringComparison.Ordinal) || category.StartsWith("System", StringComparison.Ordinal)
                    ? LogLevel.Warning
                    : LogLevel.Information);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!IsEnabled(logLevel)) return;
                var text = $"{LevelOf(logLevel)}: {category}: {formatter(state, exception)}";
                if (exception is not null) text += Environment.NewLine + exception;
                logs.Append(logLevel >= LogLevel.Warning ? LogStream.StdErr : LogStream.StdOut, text);
            }

            private static string LevelOf(LogLevel level) => level switch
            {
                LogLevel.Trace => "trce",
                LogLevel.Debug => "dbug",
                LogLevel.Information => "info",
                LogLevel.Warning => "warn",
                LogLevel.Error => "fail",
                _ => "crit",
            };
        }
    }
}
