using System.CommandLine;
using System.Reflection;
using CremaD.Contracts;
using CremaD.Orchestration.AppHost;
using Microsoft.Extensions.Configuration;

var mode = new Option<AppHostMode>("--mode") { Description = "auto (configuration, containers, local binaries, else embedded), distributed or embedded", DefaultValueFactory = _ => AppHostMode.Auto };
var dataRoot = new Option<DirectoryInfo?>("--data-root") { Description = "A local dataset (course or official layout) to upload and run instead of the built-in demo" };
var noDemo = new Option<bool>("--no-demo") { Description = "Bring the system up without submitting a run" };
var epochs = new Option<int?>("--epochs") { Description = "Maximum epochs of the submitted run (default: the recipe's 80, with early stopping)" };
var loop = new Option<RunTrainingLoop?>("--loop") { Description = "Training loop of the submitted run: fast or reference" };
var exitWhenDone = new Option<bool>("--exit-when-done") { Description = "Stop everything and exit when the submitted run has finished (exit code 0 when it completed)" };
var artifacts = new Option<DirectoryInfo>("--artifacts-dir") { Description = "Where finished runs' artefacts are downloaded", DefaultValueFactory = _ => new DirectoryInfo("artifacts") };
var dashboardPort = new Option<int>("--dashboard-port") { Description = "Dashboard port (0: a free one)", DefaultValueFactory = _ => 18888 };
var otlpPort = new Option<int>("--otlp-port") { Description = "OTLP/HTTP receiver port (0: a free one)", DefaultValueFactory = _ => 18890 };

var root = new RootCommand("CremaD AppHost: brings up RabbitMQ, blob storage, the services and the dashboard, and runs the demo")
{
    mode, dataRoot, noDemo, epochs, loop, exitWhenDone, artifacts, dashboardPort, otlpPort,
};
root.SetAction(async (parse, cancellation) =>
{
    var metadata = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value ?? "");
    // Connection strings as an Aspire AppHost reads them: appsettings.json, then the environment (ConnectionStrings__messaging, …).
    var configuration = new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables()
        .Build();
    var connectionStrings = configuration.GetSection("ConnectionStrings").GetChildren()
        .Where(c => !string.IsNullOrWhiteSpace(c.Value)).ToDictionary(c => c.Key, c => c.Value!);
    var config = RunConfig.Default;
    if (parse.GetValue(epochs) is { } maxEpochs) config = config with { Epochs = maxEpochs };
    if (parse.GetValue(loop) is { } trainingLoop) config = config with { Loop = trainingLoop };
    var options = new AppHostOptions(
        RepositoryRoot: metadata["CremaD.RepositoryRoot"],
        BuildConfiguration: metadata["CremaD.BuildConfiguration"],
        DemoDirectory: Path.Combine(AppContext.BaseDirectory, "demo"),
        Mode: parse.GetValue(mode),
        DataRoot: parse.GetValue(dataRoot)?.FullName,
        SubmitRun: !parse.GetValue(noDemo),
        RunConfig: config,
        ArtifactsDirectory: parse.GetValue(artifacts)!.FullName,
        ExitWhenDone: parse.GetValue(exitWhenDone),
        DashboardPort: parse.GetValue(dashboardPort),
        OtlpHttpPort: parse.GetValue(otlpPort),
        ConnectionStrings: connectionStrings);

    return await new AppHostRunner(options, Console.Out).RunAsync(cancellation);
});
// Ctrl+C and SIGTERM cancel the action's token and the AppHost stops everything it started. That takes longer than
// System.CommandLine's default grace of 2 s (after which it ends the process, leaving children behind), so allow more.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromMinutes(2) });
