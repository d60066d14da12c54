using Microsoft.Extensions.Logging;

namespace CremaD.Orchestration.Dashboard;

/// <summary>Where the dashboard listens and how it lets people in.</summary>
public sealed class DashboardServerOptions
{
    /// <summary>Aspire's dashboard UI address; the dashboard uses it too, so habits and bookmarks carry over.</summary>
    public const string DefaultDashboardUrl = "http://localhost:18888";

    /// <summary>Aspire's OTLP/HTTP address (its OTLP/gRPC port, 18889, is not served here).</summary>
    public const string DefaultOtlpHttpUrl = "http://localhost:18890";

    /// <summary>
    /// Address of the pages and the JSON API. Only loopback is accepted: <c>localhost</c> binds 127.0.0.1 and ::1, an IP
    /// address must be a loopback one. Port 0 picks a free port (with <c>localhost</c> it binds 127.0.0.1 only, because
    /// Kestrel cannot give both loopback addresses one dynamic port); <see cref="DashboardServer.DashboardAddress"/> tells it.
    /// </summary>
    public string DashboardUrl { get; init; } = DefaultDashboardUrl;

    /// <summary>Address of the OTLP/HTTP receiver (<c>POST /v1/traces</c>); same rules as <see cref="DashboardUrl"/>, another port.</summary>
    public string OtlpHttpUrl { get; init; } = DefaultOtlpHttpUrl;

    /// <summary>The login token; a random one when null. Anyone with it can see every log line, so it is printed only to the console.</summary>
    public string? BrowserToken { get; init; }

    /// <summary>When set, OTLP senders must present it (header <c>x-otlp-api-key</c>), as with Aspire's <c>ApiKey</c> mode.</summary>
    public string? OtlpApiKey { get; init; }

    /// <summary>The runs API's base address, or null while it is not running (the runs pages then say so).</summary>
    public Func<Uri?> RunsApiBaseAddress { get; init; } = () => null;

    /// <summary>
    /// Logging of the dashboard's own web server. By default it logs nothing: the AppHost owns the console and prints
    /// <see cref="DashboardServer.LoginUrl"/> itself.
    /// </summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; init; }
}
