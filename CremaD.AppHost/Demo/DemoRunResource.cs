using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.AppHost.Demo;

public static class DemoRunExtensions
{
    public const string ResourceName = "demo-run";

    public const string SubmitDemoCommand = "submit-demo-run";

    /// <summary>
    /// The demo run (<c>services/CremaD.DemoRun</c>): once the runs API is healthy it uploads the dataset, submits a run,
    /// follows it and downloads the artefacts. Its log lines are echoed on the AppHost's console; with
    /// <see cref="AppHostArguments.ExitWhenDone"/> the AppHost stops when it ends, with its exit code.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddDemoRun(this IDistributedApplicationBuilder builder, AppHostArguments arguments,
        string repositoryRoot, IResourceBuilder<IResourceWithEndpoints> runsApi, IResourceBuilder<ParameterResource> runsApiKey,
        IResourceBuilder<IResourceWithConnectionString> blobs)
    {
        builder.Services.AddSingleton(new DemoRunSettings(arguments.ExitWhenDone));
        builder.Services.AddHostedService<DemoRunMonitor>();
        var demo = builder.AddProject<Projects.CremaD_DemoRun>(ResourceName)
            .WithEnvironment("Demo__RunsApi", runsApi.GetEndpoint("http"))
            .WithEnvironment("Demo__RunsApiKey", runsApiKey)
            .WithEnvironment("Demo__DataRoot", arguments.DataRoot ?? Path.Combine(repositoryRoot, "samples", "demo"))
            .WithEnvironment("Demo__DatasetName", arguments.DatasetName)
            .WithEnvironment("Demo__ForceUpload", (arguments.DataRoot is not null).ToString())
            .WithEnvironment("Demo__ArtifactsDirectory", arguments.ArtifactsDirectory)
            .WithReference(blobs)
            .WaitFor(runsApi)
            .WaitFor(blobs)
            .ExcludeFromManifest();
        if (arguments.Epochs is { } epochs) demo.WithEnvironment("Demo__Epochs", epochs.ToString());
        if (arguments.Loop is { } loop) demo.WithEnvironment("Demo__Loop", loop.ToString());

        // Another demo run from the dashboard: the runs-api resource's menu starts the demo-run resource again.
        runsApi.WithCommand(SubmitDemoCommand, "Submit a demo run", async context =>
        {
            var commands = context.Services.GetRequiredService<ResourceCommandService>();
            return await commands.ExecuteCommandAsync(demo.Resource, KnownResourceCommands.StartCommand, context.CancellationToken).ConfigureAwait(false);
        }, new CommandOptions
        {
            Description = "Uploads the demo dataset if needed and submits one more run (the demo-run resource runs again).",
            IconName = "Play",
            UpdateState = context => context.ResourceSnapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy
                ? ResourceCommandState.Enabled
                : ResourceCommandState.Disabled,
        });
        return demo;
    }
}

/// <param name="ExitWhenDone">Stop the AppHost when the demo run ends.</param>
public sealed record DemoRunSettings(bool ExitWhenDone);

/// <summary>
/// Echoes the demo run's log on the AppHost's console (the progress a user started the AppHost to see) and, with
/// <c>--exit-when-done</c>, stops the AppHost when the demo run's process ends, keeping its exit code.
/// </summary>
public sealed class DemoRunMonitor(DistributedApplicationModel model, ResourceNotificationService notifications, ResourceLoggerService logs,
    IHostApplicationLifetime lifetime, DemoRunSettings settings, ILogger<DemoRunMonitor> logger) : BackgroundService
{
    /// <summary>The demo run's exit code once it has ended (the AppHost's own exit code with --exit-when-done).</summary>
    public static int? ExitCode { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var demo = model.Resources.First(r => r.Name == DemoRunExtensions.ResourceName);
        var echo = EchoLogsAsync(demo, stoppingToken);
        try
        {
            var wasRunning = false;
            await foreach (var update in notifications.WatchAsync(stoppingToken).ConfigureAwait(false))
            {
                if (update.Resource != demo) continue;
                var state = update.Snapshot.State?.Text;
                if (state == KnownResourceStates.Running) wasRunning = true;
                if (!wasRunning || state is null || !KnownResourceStates.TerminalStates.Contains(state)) continue;
                wasRunning = false;
                ExitCode = update.Snapshot.ExitCode ?? (state == KnownResourceStates.FailedToStart ? 1 : 0);
                logger.LogInformation("The demo run ended ({State}, exit code {ExitCode}).", state, ExitCode);
                if (settings.ExitWhenDone)
                {
                    // Give the echo a moment to print the run's last lines.
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                    lifetime.StopApplication();
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await echo.ConfigureAwait(false);
    }

    private static string WithoutTimestamp(string content)
    {
        var space = content.IndexOf(' ', StringComparison.Ordinal);
        return space > 0 && DateTimeOffset.TryParse(content[..space], out _) ? content[(space + 1)..] : content;
    }

    private async Task EchoLogsAsync(IResource demo, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var batch in logs.WatchAsync(demo).WithCancellation(stoppingToken).ConfigureAwait(false))
            {
                // Aspire prefixes each line with its own ISO timestamp; the console has no use for it.
                foreach (var line in batch) Console.WriteLine($"      {DemoRunExtensions.ResourceName}: {WithoutTimestamp(line.Content)}");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
