using CremaD.Contracts;
using CremaD.Runs;
using CremaD.Storage;
using CremaD.Storage.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.RunsUi.Tests;

/// <summary>
/// The real runs API, built as services/CremaD.RunsApi/Program.cs builds it, in-process on a free loopback port: the
/// in-memory bus (the run coordinator's consumers included, so a cancel goes the whole way) and a local-folder blob
/// store in a temporary directory. It starts with one completed <see cref="DemoRun"/> stored the way the coordinator
/// stores runs: its status through <see cref="RunStateStore"/>, its artefact files under the keys the status names.
/// </summary>
internal sealed class RunsApiHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunsApiHost(WebApplication app, string directory, DemoRun run, Uri address)
    {
        _app = app;
        Directory = directory;
        Run = run;
        Address = address;
        States = app.Services.GetRequiredService<RunStateStore>();
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ApiKey);
        Anonymous = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The runs API's key here.</summary>
    public const string ApiKey = "runs-ui-test-key-0123456789abcdefghijklmnopq";

    /// <summary>A client of the runs API without the key.</summary>
    public HttpClient Anonymous { get; }

    /// <summary>The temporary folder holding the blobs, the work folder and the artefacts as written.</summary>
    public string Directory { get; }

    public DemoRun Run { get; }

    /// <summary>Where the runs API (and so its UI) listens, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; }

    public RunStateStore States { get; }

    /// <summary>A client of the runs API (with the key).</summary>
    public HttpClient Client { get; }

    public static async Task<RunsApiHost> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"cremad-runs-ui-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        WebApplication? app = null;
        try
        {
            var run = DemoRun.Create(Path.Combine(directory, "artifacts"));
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Messaging:Transport"] = "InMemory",
                ["ConnectionStrings:blobs"] = Path.Combine(directory, "blobs"),
                [ServiceWorkOptions.ConfigurationKey] = Path.Combine(directory, "work"),
                ["OTEL_SERVICE_NAME"] = "runs-api",
                ["RunsApi:ApiKey"] = ApiKey,
            });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.AddServiceDefaults();
            builder.AddCremaDRunsApi();
            app = builder.Build();
            app.MapDefaultEndpoints();
            app.MapCremaDRunsApi();
            await app.StartAsync();
            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            var host = new RunsApiHost(app, directory, run, address);
            await host.PutAsync(run.Status);
            foreach (var artifact in run.Status.Artifacts)
            {
                await host.States.Blobs.UploadFileAsync(artifact.Key, Path.Combine(run.ArtifactsDirectory, artifact.Name));
            }
            return host;
        }
        catch
        {
            if (app is not null) await app.DisposeAsync();
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Stores <paramref name="status"/> as the run's status, as the coordinator does after each event.</summary>
    public Task PutAsync(RunStatus status) => States.UpdateAsync(status.RunId, _ => status);

    /// <summary>
    /// Stores a completed <see cref="DemoSweep"/> as <c>POST /sweeps</c> and the pipeline would have left it: the fold
    /// runs' statuses and predictions, the sweep's record and its index entry.
    /// </summary>
    public async Task<DemoSweep> AddSweepAsync()
    {
        var sweep = DemoSweep.Create(Run);
        for (var fold = 0; fold < sweep.Runs.Count; fold++)
        {
            await PutAsync(sweep.Runs[fold]);
            await States.Blobs.WriteBytesAsync(sweep.Runs[fold].Artifacts[0].Key, System.Text.Encoding.UTF8.GetBytes(sweep.Predictions[fold]));
        }
        await States.Blobs.WriteBytesAsync(BlobLayout.SweepKey(sweep.Record.SweepId), System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(sweep.Record, ServiceJson.Options));
        await States.Blobs.WriteBytesAsync(BlobLayout.SweepIndexKey(sweep.Record.SweepId, sweep.Record.SubmittedAt), Array.Empty<byte>());
        return sweep;
    }

    /// <summary>The run's status as the runs API stores it now.</summary>
    public Task<RunStatus?> GetAsync(Guid runId) => States.GetAsync(runId);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
