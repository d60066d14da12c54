using System.Net;
using System.Security.Cryptography;
using CremaD.Orchestration.Resources;
using CremaD.Orchestration.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace CremaD.Orchestration.Dashboard;

/// <summary>
/// The AppHost's dashboard: one web server with two loopback listeners. The dashboard listener serves the pages
/// (resources, console logs, traces, runs) and their JSON API behind a login token; the OTLP listener only receives
/// telemetry into the <see cref="TraceStore"/>. A route mapped for one listener answers 404 on the other.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _disposed;

    private DashboardServer(WebApplication app, Uri dashboardAddress, Uri otlpAddress, string token)
    {
        _app = app;
        DashboardAddress = dashboardAddress;
        OtlpHttpAddress = otlpAddress;
        BrowserToken = token;
    }

    /// <summary>Where the pages are, with the port actually bound (e.g. <c>http://localhost:18888/</c>).</summary>
    public Uri DashboardAddress { get; }

    /// <summary>The OTLP/HTTP endpoint to give services as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, with the port actually bound.</summary>
    public Uri OtlpHttpAddress { get; }

    /// <summary>The login token.</summary>
    public string BrowserToken { get; }

    /// <summary>The address that logs a browser in: print it on the console, as Aspire's AppHost does.</summary>
    public Uri LoginUrl => new(DashboardAddress, $"login?t={Uri.EscapeDataString(BrowserToken)}");

    /// <summary>
    /// Binds both listeners and starts serving. Throws <see cref="IOException"/> naming the address when a port is taken,
    /// and <see cref="ArgumentException"/> for an address that is not loopback HTTP.
    /// </summary>
    public static async Task<DashboardServer> StartAsync(DashboardServerOptions options, IResourceCatalog resources, TraceStore traces,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(resources);
        ArgumentNullException.ThrowIfNull(traces);
        var dashboardEndpoint = LoopbackEndpoint.Parse(options.DashboardUrl, nameof(options.DashboardUrl));
        var otlpEndpoint = LoopbackEndpoint.Parse(options.OtlpHttpUrl, nameof(options.OtlpHttpUrl));
        if (dashboardEndpoint.Port != 0 && dashboardEndpoint.Port == otlpEndpoint.Port)
        {
            throw new ArgumentException($"The dashboard ({options.DashboardUrl}) and the OTLP receiver ({options.OtlpHttpUrl}) need different ports.", nameof(options));
        }
        var token = string.IsNullOrEmpty(options.BrowserToken) ? RandomNumberGenerator.GetHexString(32, lowercase: true) : options.BrowserToken;

        // The empty builder reads no appsettings.json and no ASPNETCORE_* variables, so nothing meant for the AppHost
        // or a service (ASPNETCORE_URLS, Kestrel:Endpoints) can add listeners to the dashboard.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = typeof(DashboardServer).Assembly.GetName().Name });
        builder.Services.AddRoutingCore();
        // ASP.NET Core reports requests on the process-wide "Microsoft.AspNetCore" activity source and diagnostic
        // listener, which every tracer in the process listens to. In embedded mode the services' tracer lives in this
        // process: the dashboard's own requests (page polls, OTLP exports arriving) would flood the traces it shows.
        // Its hosting gets sources of its own, which nothing listens to.
        builder.Services.Replace(ServiceDescriptor.Singleton(new System.Diagnostics.ActivitySource("CremaD.Dashboard.Hosting")));
        builder.Services.Replace(ServiceDescriptor.Singleton(new System.Diagnostics.DiagnosticListener("CremaD.Dashboard.Hosting")));
        builder.Services.Replace(ServiceDescriptor.Singleton<System.Diagnostics.DiagnosticSource>(
            provider => provider.GetRequiredService<System.Diagnostics.DiagnosticListener>()));
        builder.Services.AddLogging(logging => options.ConfigureLogging?.Invoke(logging));
        builder.Services.AddHttpClient(RunsApiProxy.ClientName, client => client.Timeout = TimeSpan.FromSeconds(30));
        ListenOptions? dashboardListen = null, otlpListen = null;
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            dashboardListen = dashboardEndpoint.Listen(kestrel);
            otlpListen = otlpEndpoint.Listen(kestrel);
        });

        var app = builder.Build();
        var ports = new ListenerPorts(otlpEndpoint.Port);
        var auth = new DashboardAuth(token);
        app.UseRouting();
        app.Use((context, next) => ports.Admit(context) ? next(context) : Task.CompletedTask);
        app.Use(auth.Middleware);
        app.MapGroup("").WithMetadata(ListenerPorts.OtlpOnly).MapOtlpHttpReceiver(traces, options.OtlpApiKey);
        DashboardEndpoints.Map(app, auth, resources, traces, new RunsApiProxy(app.Services.GetRequiredService<IHttpClientFactory>(), options.RunsApiBaseAddress));

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"The dashboard could not listen on {options.DashboardUrl} and {options.OtlpHttpUrl}: {e.Message}", e);
        }
        // Port 0 is bound now: Kestrel wrote the real endpoint back into the listen options. Nobody can have
        // connected to a port 0 listener before this line, since nobody knew its port.
        ports.Otlp = otlpListen!.IPEndPoint!.Port;
        return new DashboardServer(app, dashboardEndpoint.AddressWith(dashboardListen!.IPEndPoint!.Port), otlpEndpoint.AddressWith(ports.Otlp), token);
    }

    /// <summary>Stops listening; requests in flight get a moment to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        using (var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(stopping.Token).ConfigureAwait(false);
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Which listener a request came through, told by the local port (the two listeners never share one).</summary>
    private sealed class ListenerPorts(int otlp)
    {
        /// <summary>Endpoint metadata of the routes that belong to the OTLP listener.</summary>
        public static readonly object OtlpOnly = new OtlpListenerOnly();

        public volatile int Otlp = otlp;

        /// <summary>False (after answering 404) when the route belongs to the other listener.</summary>
        public bool Admit(HttpContext context)
        {
            var onOtlpListener = context.Connection.LocalPort == Otlp;
            var endpoint = context.GetEndpoint();
            var otlpRoute = endpoint?.Metadata.GetMetadata<OtlpListenerOnly>() is not null;
            if (onOtlpListener == otlpRoute || (endpoint is null && !onOtlpListener)) return true;
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return false;
        }

        private sealed class OtlpListenerOnly;
    }

    /// <summary>A loopback HTTP address from the options, checked.</summary>
    private sealed record LoopbackEndpoint(string Host, IPAddress? Address, int Port)
    {
        public static LoopbackEndpoint Parse(string url, string optionName)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/")
            {
                throw new ArgumentException($"{optionName} '{url}' is not an http://host:port address.", optionName);
            }
            if (uri.IsDefaultPort && !url.Contains(":80", StringComparison.Ordinal))
            {
                throw new ArgumentException($"{optionName} '{url}' has no port.", optionName);
            }
            if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                // Kestrel cannot bind 127.0.0.1 and ::1 to one dynamic port, so a dynamic "localhost" is 127.0.0.1 only, and is reported so.
                return uri.Port == 0 ? new LoopbackEndpoint("127.0.0.1", IPAddress.Loopback, 0) : new LoopbackEndpoint("localhost", null, uri.Port);
            }
            if (IPAddress.TryParse(uri.Host, out var address) && IPAddress.IsLoopback(address)) return new LoopbackEndpoint(uri.Host, address, uri.Port);
            throw new ArgumentException($"{optionName} '{url}' is not a loopback address: the dashboard serves every console log and trace, so it listens on localhost only.", optionName);
        }

        public ListenOptions Listen(KestrelServerOptions kestrel)
        {
            ListenOptions? captured = null;
            if (Address is null) kestrel.ListenLocalhost(Port, listen => captured = listen);
            else kestrel.Listen(Address, Port, listen => captured = listen);
            return captured!;
        }

        public Uri AddressWith(int port) => new UriBuilder(Uri.UriSchemeHttp, Host, port, "/").Uri;
    }
}
