using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace CremaD.AppHost.Tests.AppHost;

/// <summary>Whole-AppHost tests start training processes; one at a time on a 2-core machine.</summary>
[CollectionDefinition(Name)]
public sealed class AppHostCollection
{
    public const string Name = "AppHost end to end";
}

/// <summary>
/// The real AppHost as a separate process, as a user runs it: the distributed mode (private RabbitMQ and Azurite from
/// local binaries, one process per service) and the embedded mode, each completing a demo run, watched through the
/// dashboard API; a service killed mid-run is restarted and the run completes; after SIGTERM nothing is left running.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed partial class AppHostEndToEndTests(ITestOutputHelper output)
{
    private static readonly string[] Services = ["runs-api", "feature-service", "trainer-service", "evaluation-service"];

    [Fact]
    public async Task Distributed_mode_completes_the_demo_run_survives_a_killed_trainer_and_leaves_no_process()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var host = await AppHostProcess.StartAsync("--epochs", "3");
        try
        {
            var runId = (await host.WaitForConsoleAsync(SubmittedLine(), TimeSpan.FromMinutes(4))).Groups["id"].Value;
            output.WriteLine($"run {runId} submitted after {clock.Elapsed.TotalSeconds:0} s");
            await AssertResourcesAsync(host, expectedNames: ["messaging", "blobs", .. Services], processes: Services);
            Assert.Contains("distributed mode", host.Console, StringComparison.Ordinal);

            // Kill the trainer once it has checkpointed an epoch: the AppHost restarts it and the run resumes.
            await host.EventuallyAsync(async () => (await RunAsync(host, runId)).GetProperty("training").GetProperty("history").GetArrayLength() >= 1 ? true : (bool?)null,
                TimeSpan.FromMinutes(6), "the first epoch");
            var trainer = await host.ResourceAsync("trainer-service");
            var killedPid = trainer.GetProperty("processId").GetInt32();
            Assert.Equal(0, trainer.GetProperty("restarts").GetInt32());
            Syscall.Kill(killedPid, 9);
            output.WriteLine($"killed trainer-service {killedPid} after {clock.Elapsed.TotalSeconds:0} s");
            await host.EventuallyAsync(async () =>
            {
                var r = await host.ResourceAsync("trainer-service");
                return r.GetProperty("restarts").GetInt32() == 1 && r.GetProperty("state").GetString() == "running" && r.GetProperty("health").GetString() == "healthy"
                       && r.GetProperty("processId").GetInt32() != killedPid ? true : (bool?)null;
            }, TimeSpan.FromMinutes(1), "trainer-service restarted and healthy");
            Assert.Equal(137, (await host.ResourceAsync("trainer-service")).GetProperty("lastExitCode").GetInt32());

            var completed = await WaitForCompletionAsync(host, runId, TimeSpan.FromMinutes(10));
            output.WriteLine($"run completed after {clock.Elapsed.TotalSeconds:0} s");
            Assert.Equal(3, completed.GetProperty("training").GetProperty("history").GetArrayLength());
            await AssertArtifactsDownloadedAsync(host, runId);
            await AssertOneTraceSpansTheServicesAsync(host, runId, Services);
        }
        catch (Exception)
        {
            output.WriteLine(host.Console);
            throw;
        }
        await AssertStopsCleanlyAsync(host, hasChildren: true);
    }

    [Fact]
    public async Task Embedded_mode_completes_the_demo_run_in_one_process()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var host = await AppHostProcess.StartAsync("--mode", "embedded", "--epochs", "2");
        try
        {
            var runId = (await host.WaitForConsoleAsync(SubmittedLine(), TimeSpan.FromMinutes(3))).Groups["id"].Value;
            Assert.Contains("embedded mode", host.Console, StringComparison.Ordinal);
            await AssertResourcesAsync(host, expectedNames: ["messaging", "blobs", "services"], processes: []);
            var services = await host.ResourceAsync("services");
            Assert.Equal(host.ProcessId, services.GetProperty("processId").GetInt32());

            var completed = await WaitForCompletionAsync(host, runId, TimeSpan.FromMinutes(8));
            output.WriteLine($"run completed after {clock.Elapsed.TotalSeconds:0} s");
            Assert.Equal(2, completed.GetProperty("training").GetProperty("history").GetArrayLength());
            await AssertArtifactsDownloadedAsync(host, runId);
            await AssertOneTraceSpansTheServicesAsync(host, runId, ["services"]);

            // The services' tracer shares the process with the dashboard and the AppHost's own HTTP calls: none of
            // those (OTLP exports arriving, page polls, health probes, the AppHost's polling) may show up as traces.
            var roots = (await host.GetJsonAsync("api/traces?max=1000")).GetProperty("traces").EnumerateArray()
                .Select(t => t.GetProperty("rootName").GetString()!).ToList();
            Assert.DoesNotContain(roots, r => r.Contains("/v1/", StringComparison.Ordinal) || r.Contains("/api/", StringComparison.Ordinal)
                                               || r.Contains("/health", StringComparison.Ordinal) || r is "GET" or "POST");
            Assert.Contains(roots, r => r.StartsWith("POST /runs", StringComparison.Ordinal));
        }
        catch (Exception)
        {
            output.WriteLine(host.Console);
            throw;
        }
        await AssertStopsCleanlyAsync(host, hasChildren: false);
    }

    private static async Task AssertResourcesAsync(AppHostProcess host, string[] expectedNames, string[] processes)
    {
        var resources = await host.ResourcesAsync();
        Assert.Equal(expectedNames, resources.Select(r => r.GetProperty("name").GetString()));
        foreach (var resource in resources)
        {
            Assert.Equal("running", resource.GetProperty("state").GetString());
            Assert.Equal("healthy", resource.GetProperty("health").GetString());
            Assert.NotEmpty(resource.GetProperty("endpoints").EnumerateArray());
        }
        foreach (var name in processes)
        {
            var resource = resources.Single(r => r.GetProperty("name").GetString() == name);
            var pid = resource.GetProperty("processId").GetInt32();
            Assert.True(Directory.Exists($"/proc/{pid}"), $"{name}: process {pid} is not running");
            Assert.Equal(["messaging", "blobs"], resource.GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()));
            // Its console is captured: the ASP.NET Core start-up line names its endpoint.
            var logs = await host.GetJsonAsync($"api/resources/{name}/logs?after=0");
            Assert.Contains(logs.GetProperty("lines").EnumerateArray(), l => l.GetProperty("text").GetString()!.Contains("process", StringComparison.Ordinal));
        }
    }

    private static async Task<JsonElement> RunAsync(AppHostProcess host, string runId) => await host.GetJsonAsync($"api/runs/{runId}");

    private static async Task<JsonElement> WaitForCompletionAsync(AppHostProcess host, string runId, TimeSpan timeout)
    {
        await host.EventuallyAsync(async () =>
        {
            var stage = (await RunAsync(host, runId)).GetProperty("stage").GetString();
            Assert.NotEqual("failed", stage);
            return stage == "completed" ? true : (bool?)null;
        }, timeout, $"run {runId} completed");
        return await RunAsync(host, runId);
    }

    private static async Task AssertArtifactsDownloadedAsync(AppHostProcess host, string runId)
    {
        await host.WaitForConsoleAsync(new Regex($"Run {runId} completed: test accuracy"), TimeSpan.FromMinutes(1));
        var folder = Path.Combine(host.Directory, "artifacts", runId);
        foreach (var name in new[] { "best_model", "history.json", "training_curves.png", "confusion_matrix.png", "classification_report.json", "test_metrics.json", "status.json" })
        {
            var path = Path.Combine(folder, name);
            Assert.True(File.Exists(path) && new FileInfo(path).Length > 0, $"{path} is missing or empty");
        }
        var png = await File.ReadAllBytesAsync(Path.Combine(folder, "confusion_matrix.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }

    private static async Task AssertOneTraceSpansTheServicesAsync(AppHostProcess host, string runId, string[] services)
    {
        // Spans reach the dashboard within about a second of ending (OTEL_BSP_SCHEDULE_DELAY=1000).
        await host.EventuallyAsync(async () =>
        {
            var traces = (await host.GetJsonAsync($"api/traces?runId={runId}")).GetProperty("traces").EnumerateArray().ToList();
            return traces.Any(t => services.All(s => t.GetProperty("services").EnumerateArray().Any(x => x.GetString() == s))) ? true : (bool?)null;
        }, TimeSpan.FromSeconds(30), $"one trace of run {runId} with spans of {string.Join(", ", services)}");
        var trace = (await host.GetJsonAsync($"api/traces?runId={runId}")).GetProperty("traces").EnumerateArray()
            .First(t => services.All(s => t.GetProperty("services").EnumerateArray().Any(x => x.GetString() == s)));
        var waterfall = await host.GetJsonAsync($"api/traces/{trace.GetProperty("traceId").GetString()}");
        Assert.True(waterfall.GetProperty("spans").GetArrayLength() >= 5);
    }

    private async Task AssertStopsCleanlyAsync(AppHostProcess host, bool hasChildren)
    {
        // The check below must be able to see children: before the stop it finds the services, RabbitMQ and Azurite.
        if (hasChildren) Assert.True(host.FindChildren().Count >= 6, "the services, RabbitMQ and Azurite should be found before the stop");
        var exitCode = await host.StopAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(0, exitCode);
        Assert.Contains("Stopped after", host.Console, StringComparison.Ordinal);
        var leftovers = host.FindChildren();
        output.WriteLine($"after stop: {leftovers.Count} child processes left");
        Assert.Empty(leftovers);
    }

    [GeneratedRegex(@"Run (?<id>[0-9a-f-]{36}) submitted")]
    private static partial Regex SubmittedLine();

    private static class Syscall
    {
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int sig);

        public static void Kill(int pid, int signal) => Assert.Equal(0, kill(pid, signal));
    }
}
