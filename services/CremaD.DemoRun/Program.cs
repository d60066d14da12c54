using CremaD.DemoRun;
using CremaD.Runs.Client;
using Microsoft.Extensions.Options;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.IncludeScopes = false;
    // The lines are read in the Aspire dashboard and echoed by the AppHost: no terminal colour codes.
    console.ColorBehavior = Microsoft.Extensions.Logging.Console.LoggerColorBehavior.Disabled;
});
builder.AddCremaDSharedBlobStore();
builder.Services.Configure<DemoRunOptions>(builder.Configuration.GetSection(DemoRunOptions.SectionName));
builder.Services.AddSingleton(provider => provider.GetRequiredService<IOptions<DemoRunOptions>>().Value);
// A plain HttpClient, not the factory's: the default resilience handler would retry POST /runs (a second run) and cut
// artefact downloads at 30 s. The runner itself retries what is safe to retry.
builder.Services.AddSingleton(provider =>
{
    var options = provider.GetRequiredService<DemoRunOptions>();
    return new RunsClient(RunsClient.CreateHttpClient(
        options.RunsApi ?? throw new InvalidOperationException("Demo:RunsApi (the runs API's base address) is not set."),
        options.RunsApiKey ?? throw new InvalidOperationException("Demo:RunsApiKey (the runs API's key) is not set."),
        TimeSpan.FromMinutes(5)));
});
builder.Services.AddSingleton<DemoRunner>();

using var host = builder.Build();
await host.StartAsync();
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
int exitCode;
try
{
    exitCode = await host.Services.GetRequiredService<DemoRunner>().RunAsync(lifetime.ApplicationStopping);
}
catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
{
    exitCode = 130;
}
await host.StopAsync();
return exitCode;
