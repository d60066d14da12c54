using CremaD.AppHost;
using CremaD.AppHost.Demo;
using CremaD.AppHost.Infrastructure;

AppHostArguments arguments;
try
{
    arguments = AppHostArguments.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}\n\n{AppHostArguments.Usage}");
    return 2;
}

var builder = DistributedApplication.CreateBuilder([.. arguments.Remaining]);
var state = AppHostState.Create();
// messaging (RabbitMQ) and blobs (Azure Blob / Azurite), or one all-in-one host when there is no broker.
var infrastructure = builder.AddCremaDInfrastructure(arguments.Mode, state);
// Every call to the runs API needs this key; the AppHost makes one and hands it to the API and its clients.
var runsApiKey = builder.AddRunsApiKey();
var environment = arguments.Development ? "Development" : "Production";

IResourceBuilder<ProjectResource> runsApi;
if (infrastructure.Plan.Embedded)
{
    runsApi = builder.AddProject<Projects.CremaD_AllServices>("services").WithCremaDService(infrastructure, state, environment);
}
else
{
    runsApi = builder.AddProject<Projects.CremaD_RunsApi>("runs-api").WithCremaDService(infrastructure, state, environment);
    builder.AddProject<Projects.CremaD_FeatureService>("feature-service").WithCremaDService(infrastructure, state, environment)
        .WithReplicas(arguments.FeatureReplicas);
    var trainer = builder.AddProject<Projects.CremaD_TrainerService>("trainer-service").WithCremaDService(infrastructure, state, environment);
    if (arguments.TrainerReplicas > 1)
    {
        // Replicas share this machine's cores: each trains with its share, so two folds of a sweep train side by side
        // without oversubscribing (one replica keeps its default, every core).
        trainer.WithReplicas(arguments.TrainerReplicas)
            .WithEnvironment("Trainer__Threads", Math.Max(1, Environment.ProcessorCount / arguments.TrainerReplicas).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
    builder.AddProject<Projects.CremaD_EvaluationService>("evaluation-service").WithCremaDService(infrastructure, state, environment);
}
// The ML view the Aspire dashboard lacks (runs, stages, curves, confusion matrix, artefacts) is the runs API's web UI;
// the dashboard's link to it carries the key.
runsApi.WithRunsApiKey(runsApiKey, state);

if (!arguments.NoDemo && !builder.ExecutionContext.IsPublishMode)
{
    builder.AddDemoRun(arguments, InfrastructureResourceExtensions.RepositoryRoot, runsApi, runsApiKey, infrastructure.Blobs);
}

var clock = System.Diagnostics.Stopwatch.StartNew();
await builder.Build().RunAsync();
state.Dispose();
using (var self = System.Diagnostics.Process.GetCurrentProcess())
{
    // The AppHost process alone (the Aspire host; DCP, the dashboard and the services are processes of their own).
    Console.WriteLine($"CremaD AppHost stopped after {clock.Elapsed.TotalSeconds:0.0} s; peak working set {self.PeakWorkingSet64 / 1048576.0:0} MiB.");
}
return arguments.ExitWhenDone ? DemoRunMonitor.ExitCode ?? 1 : 0;
