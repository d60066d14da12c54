using System.Diagnostics;
using System.Security.Cryptography;
using CremaD.Contracts;
using CremaD.LocalInfrastructure;
using CremaD.Orchestration.Dashboard;
using CremaD.Orchestration.Resources;
using CremaD.Orchestration.Telemetry;
using CremaD.Services;
using CremaD.Storage;

namespace CremaD.Orchestration.AppHost;

/// <summary>
/// The AppHost: chooses the infrastructure, starts the dashboard (with its OTLP receiver) and the resources in
/// dependency order with Aspire's environment, submits the demo run (or the user's dataset), downloads the artefacts of
/// finished runs, and on cancellation (Ctrl+C, SIGTERM) stops everything it started.
/// </summary>
public sealed class AppHostRunner(AppHostOptions options, TextWriter console)
{
    /// <summary>Environment variable that marks every process the AppHost starts, so leftovers can be found and killed.</summary>
    public const string MarkerVariable = "CREMAD_APPHOST_ID";

    private readonly string _instanceId = $"apphost-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>The orchestrator, once resources exist (tests and the dashboard read it).</summary>
    public Orchestrator? Orchestrator { get; private set; }

    /// <summary>The dashboard, once started.</summary>
    public DashboardServer? Dashboard { get; private set; }

    /// <summary>The run the AppHost submitted, once submitted.</summary>
    public Guid? SubmittedRunId { get; private set; }

    /// <summary>Runs until <paramref name="stop"/> fires (or, with ExitWhenDone, the submitted run finishes); returns the exit code.</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        var state = Directory.CreateTempSubdirectory("cremad-apphost-").FullName;
        var marker = new Dictionary<string, string> { [MarkerVariable] = _instanceId };
        // If this process is killed outright, the watchdog kills every process carrying our marker and removes the state folder.
        var watchdogLog = Path.Combine(Path.GetTempPath(), $"{_instanceId}-watchdog.log");
        using var watchdog = OrphanWatchdog.Start(state,
            $"for p in /proc/[0-9]*; do grep -qzx {OrphanWatchdog.Quote($"{MarkerVariable}={_instanceId}")} \"$p/environ\" 2>/dev/null && kill -9 -- \"-${{p#/proc/}}\" \"${{p#/proc/}}\" 2>/dev/null; done; rm -rf {OrphanWatchdog.Quote(state)}",
            watchdogLog);
        var exitCode = 1;
        var catalog = new LateCatalog();
        try
        {
            var connectionStrings = options.ConnectionStrings ?? new Dictionary<string, string>();
            var machine = options.Mode == AppHostMode.Embedded
                ? new MachineInfrastructure(null, false, false, "", "")
                : await MachineInfrastructure.DetectAsync(options.RepositoryRoot, stop).ConfigureAwait(false);
            var plan = InfrastructureSelector.Choose(options.Mode, connectionStrings, machine);
            Say($"CremaD AppHost: {plan.Summary}");
            foreach (var reason in plan.Reasons) Say($"  - {reason}");
            if (plan.Embedded && options.Mode == AppHostMode.Auto)
            {
                Say("  For the distributed mode on Debian/Ubuntu: sudo apt-get install -y rabbitmq-server && npm ci   (see README)");
            }

            var traces = new TraceStore();
            var otlpApiKey = RandomToken();
            Uri? runsApi = null;
            Dashboard = await DashboardServer.StartAsync(new DashboardServerOptions
            {
                DashboardUrl = $"http://localhost:{options.DashboardPort}",
                OtlpHttpUrl = $"http://localhost:{options.OtlpHttpPort}",
                OtlpApiKey = otlpApiKey,
                RunsApiBaseAddress = () => Volatile.Read(ref runsApi),
            }, catalog, traces, stop).ConfigureAwait(false);
            Say($"Dashboard: {Dashboard.LoginUrl}");
            Say($"OTLP/HTTP receiver: {Dashboard.OtlpHttpAddress}");

            var (resources, runsApiEndpoint, runsApiResource, blobsResource) = BuildResources(plan, state, marker, connectionStrings, otlpApiKey);
            Orchestrator = new Orchestrator(resources);
            catalog.Inner = Orchestrator;
            foreach (var resource in resources)
            {
                resource.Logs.Echo = line =>
                {
                    if (line.Stream == LogStream.System) Say(line.Text);
                };
            }
            Orchestrator.Start();
            try
            {
                await Orchestrator.WaitUntilReadyAsync(runsApiResource, stop).ConfigureAwait(false);
                foreach (var resource in resources) await Orchestrator.WaitUntilReadyAsync(resource, stop).ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                Say($"error: {e.Message}");
                return exitCode = 1;
            }
            Volatile.Write(ref runsApi, runsApiEndpoint);
            Say($"All resources are healthy after {_clock.Elapsed.TotalSeconds:0.0} s.");

            using var http = new HttpClient { BaseAddress = runsApiEndpoint, Timeout = TimeSpan.FromMinutes(5) };
            var runs = new RunsClient(http);
            if (options.SubmitRun)
            {
                SubmittedRunId = await SubmitAsync(runs, BlobsConnectionOf(blobsResource), stop).ConfigureAwait(false);
                Say($"Run {SubmittedRunId:D} submitted. Watch it: {new Uri(Dashboard.DashboardAddress, $"#/runs/{SubmittedRunId:D}")}" +
                    $"  (status: {runsApiEndpoint}runs/{SubmittedRunId:D})");
            }
            else
            {
                Say($"No run submitted (--no-demo). Submit one with POST {runsApiEndpoint}runs.");
            }
            exitCode = await FollowRunsAsync(runs, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            exitCode = 0;
        }
        catch (Exception e)
        {
            Say($"error: {e.Message}");
            exitCode = 1;
        }
        finally
        {
            Say("Stopping…");
            if (Orchestrator is not null) await Orchestrator.StopAsync().ConfigureAwait(false);
            if (Dashboard is not null) await Dashboard.DisposeAsync().ConfigureAwait(false);
            var survivors = await ProcessTable.KillAndWaitAsync(
                p => p.Environment.TryGetValue(MarkerVariable, out var id) && id == _instanceId, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (survivors.Count > 0) Say($"warning: processes survived SIGKILL: {string.Join("; ", survivors)}");
            TryDelete(state);
            watchdog.Signal(ProcessGroup.SigKill);
            // The watchdog never ran its cleanup (we stopped normally), so its log is empty: do not leave it behind.
            if (await watchdog.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false)) File.Delete(watchdogLog);
            Say($"Stopped after {_clock.Elapsed.TotalSeconds:0.0} s. AppHost process (orchestrator + dashboard{(Orchestrator?.Resources.Any(r => r.Kind == ResourceKind.InProcess) == true ? " + embedded services" : "")}): " +
                $"peak working set {PeakWorkingSetMiB():0} MiB, managed heap {GC.GetTotalMemory(false) / 1048576.0:0} MiB.");
        }
        return exitCode;
    }

    private (IReadOnlyList<Resource> Resources, Uri RunsApi, Resource RunsApiResource, Resource Blobs) BuildResources(
        InfrastructurePlan plan, string state, IReadOnlyDictionary<string, string> marker, IReadOnlyDictionary<string, string> connectionStrings,
        string otlpApiKey)
    {
        var otlpEndpoint = Dashboard!.OtlpHttpAddress.ToString().TrimEnd('/');
        Dictionary<string, string> Settings(string serviceName, int port) => new(StringComparer.Ordinal)
        {
            ["OTEL_SERVICE_NAME"] = serviceName,
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={serviceName}-{Guid.NewGuid().ToString("N")[..8]}",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_EXPORTER_OTLP_HEADERS"] = $"x-otlp-api-key={otlpApiKey}",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "1000",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "1000",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "1000",
            ["OTEL_TRACES_SAMPLER"] = "always_on",
            ["ASPNETCORE_URLS"] = $"http://localhost:{port}",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["CremaD__BlobContainer"] = options.BlobContainer,
            ["CremaD__WorkDirectory"] = Path.Combine(state, "work", serviceName),
            ["MASSTRANSIT_USAGE_TELEMETRY"] = "false",
        };

        var resources = new List<Resource>();
        if (plan.Embedded)
        {
            var blobsConnection = connectionStrings.GetValueOrDefault(InfrastructureNames.Blobs) ?? Path.Combine(state, "blobs");
            var messaging = new EmbeddedInfrastructureResource(InfrastructureNames.Messaging, "MassTransit in-memory transport", "in-memory", null);
            var blobs = new EmbeddedInfrastructureResource(InfrastructureNames.Blobs,
                plan.Blobs == InfrastructureSource.Configuration ? "connection string from configuration" : "local folder",
                plan.Blobs == InfrastructureSource.Configuration ? "configured" : blobsConnection, blobsConnection);
            var port = FreePorts.AllocateOne();
            var services = new EmbeddedServicesResource("services", port, Settings("services", port), [messaging, blobs]);
            resources.AddRange([messaging, blobs, services]);
            return (resources, services.HttpEndpoint, services, blobs);
        }

        Resource messagingResource = plan.Messaging switch
        {
            InfrastructureSource.Configuration => ConfiguredMessaging(connectionStrings[InfrastructureNames.Messaging]),
            InfrastructureSource.Container => new ContainerResource(InfrastructureNames.Messaging, plan.ContainerRuntime!, ContainerImage.RabbitMq,
                $"cremad-{_instanceId}-messaging"),
            _ => new LocalRabbitMqResource(),
        };
        Resource blobsResource = plan.Blobs switch
        {
            InfrastructureSource.Configuration => ConfiguredBlobs(connectionStrings[InfrastructureNames.Blobs]),
            InfrastructureSource.Container => new ContainerResource(InfrastructureNames.Blobs, plan.ContainerRuntime!, ContainerImage.Azurite,
                $"cremad-{_instanceId}-blobs"),
            _ => new LocalAzuriteResource(Path.Combine(options.RepositoryRoot, "node_modules", ".bin", "azurite")),
        };
        resources.Add(messagingResource);
        resources.Add(blobsResource);
        ProjectResource? runsApiResource = null;
        foreach (var project in ServiceProjects.All)
        {
            var port = FreePorts.AllocateOne();
            var resource = new ProjectResource(project.ResourceName, project.ProjectPath,
                ProjectLaunch.ForAssembly(project.AssemblyPath(options.RepositoryRoot, options.BuildConfiguration), port, Settings(project.ResourceName, port)),
                [messagingResource, blobsResource], marker);
            runsApiResource ??= resource;
            resources.Add(resource);
        }
        return (resources, runsApiResource!.HttpEndpoint, runsApiResource, blobsResource);
    }

    /// <summary>The blob connection string the services get from <paramref name="blobs"/> (known once it has started).</summary>
    private static string BlobsConnectionOf(Resource blobs) =>
        blobs.ReferenceEnvironment.TryGetValue($"ConnectionStrings__{blobs.Name}", out var value)
            ? value
            : throw new InvalidOperationException($"{blobs.Name} has no connection string.");

    private static ConnectionStringResource ConfiguredMessaging(string connectionString)
    {
        var uri = Microsoft.Extensions.Hosting.MessagingExtensions.ParseBrokerAddress(connectionString);
        var port = uri.IsDefaultPort || uri.Port <= 0 ? (uri.Scheme.EndsWith('s') ? 5671 : 5672) : uri.Port;
        return new ConnectionStringResource(InfrastructureNames.Messaging, connectionString, $"{uri.Scheme}://{uri.Host}:{port}", uri.Host, port);
    }

    private static ConnectionStringResource ConfiguredBlobs(string connectionString)
    {
        var endpoint = connectionString.Split(';').Select(part => part.Split('=', 2))
            .FirstOrDefault(kv => kv.Length == 2 && kv[0].Trim().Equals("BlobEndpoint", StringComparison.OrdinalIgnoreCase))?[1];
        if (endpoint is null && Uri.TryCreate(connectionString, UriKind.Absolute, out var direct) && direct.Scheme.StartsWith("http", StringComparison.Ordinal))
        {
            endpoint = direct.ToString();
        }
        if (endpoint is not null && Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            return new ConnectionStringResource(InfrastructureNames.Blobs, connectionString, $"{uri.Scheme}://{uri.Host}:{uri.Port}{uri.AbsolutePath}", uri.Host, uri.Port);
        }
        if (connectionString.Contains("AccountName=", StringComparison.OrdinalIgnoreCase))
        {
            var account = connectionString.Split(';').Select(part => part.Split('=', 2))
                .First(kv => kv.Length == 2 && kv[0].Trim().Equals("AccountName", StringComparison.OrdinalIgnoreCase))[1];
            var host = $"{account}.blob.core.windows.net";
            return new ConnectionStringResource(InfrastructureNames.Blobs, connectionString, $"https://{host}/", host, 443);
        }
        throw new InvalidOperationException(
            "ConnectionStrings__blobs must be an account connection string or a blob endpoint URI for the distributed mode " +
            "(a local folder works only in embedded mode: --mode embedded).");
    }

    private async Task<Guid> SubmitAsync(RunsClient runs, string blobsConnection, CancellationToken stop)
    {
        var directory = options.DataRoot ?? options.DemoDirectory;
        var name = options.DataRoot is null ? "demo" : DatasetNameOf(options.DataRoot);
        var store = BlobStoreFactory.FromConnectionString(blobsConnection, options.BlobContainer);
        var prefix = BlobDataset.PrefixOf(name);
        if (options.DataRoot is null && await store.ExistsAsync(prefix + "labels.csv", stop).ConfigureAwait(false))
        {
            Say($"Dataset '{name}' is already in storage ({prefix}).");
        }
        else
        {
            Say($"Uploading {directory} to {prefix} …");
            var clock = Stopwatch.StartNew();
            var (_, files, dataset) = await BlobDataset.UploadAsync(store, directory, name, cancellationToken: stop).ConfigureAwait(false);
            Say($"Uploaded {files} files ({dataset.Clips.Count} clips) in {clock.Elapsed.TotalSeconds:0.0} s.");
        }
        var config = options.RunConfig ?? RunConfig.Default;
        return await runs.SubmitAsync(new SubmitRunRequest(name, config, Name: options.DataRoot is null ? "demo" : name), stop).ConfigureAwait(false);
    }

    /// <summary>Lower-case letters, digits and dashes from the folder name (a blob-prefix-friendly dataset name).</summary>
    public static string DatasetNameOf(string dataRoot)
    {
        var folder = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataRoot)));
        var name = new string(folder.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        return name.Length == 0 ? "dataset" : name;
    }

    /// <summary>Polls the runs API: reports stage changes of the submitted run, downloads the artefacts of every finished run once.</summary>
    private async Task<int> FollowRunsAsync(RunsClient runs, CancellationToken stop)
    {
        var downloaded = new HashSet<Guid>();
        string? lastReport = null;
        while (true)
        {
            IReadOnlyList<RunStatus> all;
            try
            {
                all = await runs.ListAsync(stop).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                // The runs API may be restarting; it keeps run state in blob storage, so nothing is lost.
                Say($"runs API not reachable ({e.Message}); retrying");
                await Task.Delay(TimeSpan.FromSeconds(2), stop).ConfigureAwait(false);
                continue;
            }
            foreach (var run in all)
            {
                if (run.RunId == SubmittedRunId)
                {
                    var report = $"run {run.RunId:D}: {run.Stage.ToString().ToLowerInvariant()} {run.Progress:P0}" +
                                 (run.Training.History.Count > 0 ? $", epoch {run.Training.History.Count}/{run.Training.MaxEpochs}" : "");
                    if (report != lastReport) Say(report);
                    lastReport = report;
                }
                if (run.Stage == RunStage.Completed && !downloaded.Contains(run.RunId))
                {
                    var target = Path.GetFullPath(Path.Combine(options.ArtifactsDirectory, run.RunId.ToString("D")));
                    try
                    {
                        var files = await runs.DownloadArtifactsAsync(run, target, stop).ConfigureAwait(false);
                        downloaded.Add(run.RunId);
                        Say($"Run {run.RunId:D} completed: test accuracy {run.Evaluation?.Accuracy:P1}, macro F1 {run.Evaluation?.MacroF1:0.000}; " +
                            $"{files.Count} files in {target}");
                    }
                    catch (HttpRequestException e)
                    {
                        Say($"Could not download the artefacts of run {run.RunId:D} yet ({e.Message}); retrying");
                    }
                }
            }
            if (options.ExitWhenDone && SubmittedRunId is { } id && all.FirstOrDefault(r => r.RunId == id) is { } submitted && submitted.Stage.IsTerminal()
                && (submitted.Stage != RunStage.Completed || downloaded.Contains(id)))
            {
                if (submitted.Stage == RunStage.Completed)
                {
                    Say($"Demo run finished in {_clock.Elapsed.TotalSeconds:0.0} s from start.");
                    return 0;
                }
                Say($"Run {id:D} ended {submitted.Stage.ToString().ToLowerInvariant()}: {string.Join("; ", submitted.Errors.Select(e => e.Message))}");
                return 1;
            }
            await Task.Delay(TimeSpan.FromSeconds(2), stop).ConfigureAwait(false);
        }
    }

    private void Say(string line)
    {
        lock (console)
        {
            console.WriteLine($"[{_clock.Elapsed:hh\\:mm\\:ss}] {line}");
            console.Flush();
        }
    }

    /// <summary>VmHWM of this process (the kernel's peak resident set), in MiB.</summary>
    private static double PeakWorkingSetMiB()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64 / 1048576.0;
    }

    private static string RandomToken() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The watchdog removes it if it is still there when it runs; otherwise it is only temp space.
        }
    }

    /// <summary>The dashboard starts before the resources exist; it sees an empty list until then.</summary>
    private sealed class LateCatalog : IResourceCatalog
    {
        public volatile IResourceCatalog? Inner;

        public IReadOnlyList<ResourceSnapshot> Snapshot() => Inner?.Snapshot() ?? [];

        public IReadOnlyList<LogLine>? GetLogs(string name, long afterSequence, int max) => Inner?.GetLogs(name, afterSequence, max);
    }
}
