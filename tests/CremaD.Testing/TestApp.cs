using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;

namespace CremaD.Testing;

/// <summary>
/// A service host as the AppHost would start one (service defaults, /health and /alive mapped), on a real Kestrel listener on a free loopback port, with the
/// settings the AppHost would inject given as configuration (environment variables of a real process are
/// global, and tests run in parallel).
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private TestApp(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = Timeout };
    }

    public WebApplication App { get; }

    /// <summary>http://127.0.0.1:&lt;port&gt;/</summary>
    public Uri Address { get; }

    /// <summary>A plain client (no service defaults) for calling the app.</summary>
    public HttpClient Http { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>A builder with the given settings and no OTLP endpoint unless the settings name one.</summary>
    public static WebApplicationBuilder CreateBuilder(IReadOnlyDictionary<string, string?>? settings = null, string environment = "Production")
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            EnvironmentName = environment,
            ApplicationName = typeof(TestApp).Assembly.GetName().Name,
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        // The machine's own OTEL_* variables must not decide what a test sees.
        builder.Configuration[Microsoft.Extensions.Hosting.Extensions.OtlpEndpointSetting] = "";
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.Configuration[key] = value;
        }
        return builder;
    }

    /// <summary>Builds, maps the default endpoints (and whatever <paramref name="map"/> adds) and starts listening.</summary>
    public static async Task<TestApp> StartAsync(WebApplicationBuilder builder, Action<WebApplication>? map = null)
    {
        var app = builder.Build();
        app.MapDefaultEndpoints();
        map?.Invoke(app);
        using var timeout = new CancellationTokenSource(Timeout);
        await app.StartAsync(timeout.Token);
        var address = new Uri(app.Urls.Single().Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return new TestApp(app, address);
    }

    /// <summary>GET <paramref name="path"/>: status code and body.</summary>
    public async Task<(int Status, string Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(path.TrimStart('/'));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Polls <paramref name="path"/> until it answers <paramref name="status"/> (the bus connects in the background).</summary>
    public async Task<(int Status, string Body)> WaitForAsync(string path, int status)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var result = await GetAsync(path);
            if (result.Status == status || DateTime.UtcNow > deadline) return result;
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var timeout = new CancellationTokenSource(Timeout);
        await App.StopAsync(timeout.Token);
        await App.DisposeAsync();
    }
}
