using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using CremaD.Contracts;
using CremaD.Services;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>
/// A stand-in for the runs API on a free loopback port: the same routes and JSON (ServiceJson) as
/// <see cref="RunsApi"/>, serving <see cref="RunStatus"/> values the test sets and artefact files from a folder instead of
/// RabbitMQ and blob storage, which the dashboard never talks to.
/// </summary>
internal sealed class FakeRunsApi : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly ConcurrentDictionary<Guid, RunStatus> _runs;

    private FakeRunsApi(WebApplication app, Uri baseAddress, List<string> requests, ConcurrentDictionary<Guid, RunStatus> runs)
    {
        _app = app;
        BaseAddress = baseAddress;
        Requests = requests;
        _runs = runs;
    }

    /// <summary>Adds or replaces a run, as the runs API's status changes with each event.</summary>
    public void Put(RunStatus status) => _runs[status.RunId] = status;

    public Uri BaseAddress { get; }

    /// <summary>Requests received, as "GET /runs/…", for checking what the dashboard forwarded.</summary>
    public List<string> Requests { get; }

    public static async Task<FakeRunsApi> StartAsync(DemoRun run)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddRoutingCore();
        ListenOptions? listen = null;
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => listen = l));
        var app = builder.Build();
        var requests = new List<string>();
        app.Use((context, next) =>
        {
            lock (requests) requests.Add($"{context.Request.Method} {context.Request.Path}");
            return next(context);
        });
        var runs = new ConcurrentDictionary<Guid, RunStatus>{ [run.RunId] = run.Status };
        app.MapGet("/runs", () => Results.Json(runs.Values.ToList(), ServiceJson.Options));
        app.MapGet("/runs/{runId:guid}", (Guid runId) => runs.TryGetValue(runId, out var status)
            ? Results.Json(status, ServiceJson.Options)
            : Results.NotFound(new { error = $"No run {runId:D}." }));
        app.MapGet("/runs/{runId:guid}/artifacts/{name}", (Guid runId, string name) =>
        {
            var path = Path.Combine(run.ArtifactsDirectory, name);
            if (runId != run.RunId || name.Contains('/') || !File.Exists(path))
            {
                return Results.NotFound(new { error = $"Run {runId:D} has no artefact '{name}'." });
            }
            var type = Path.GetExtension(name) switch { ".png" => "image/png", ".json" => "application/json", _ => "application/octet-stream" };
            return Results.File(path, type, name);
        });
        await app.StartAsync();
        return new FakeRunsApi(app, new Uri($"http://127.0.0.1:{listen!.IPEndPoint!.Port}"), requests, runs);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
