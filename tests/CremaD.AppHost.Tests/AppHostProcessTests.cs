using CremaD.Testing;
using Xunit.Abstractions;

namespace CremaD.AppHost.Tests;

/// <summary>The AppHosts of this project run one at a time: each brings up DCP, a dashboard and services on 2 cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AppHostCollection
{
    public const string Name = "AppHost";
}

/// <summary>The AppHost as a user runs it: the embedded demo to the end, and a distributed AppHost stopped by Ctrl+C or killed.</summary>
[Collection(AppHostCollection.Name)]
public sealed class AppHostProcessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Embedded_mode_runs_the_demo_to_completion_exits_0_and_leaves_no_process()
    {
        await using var host = AppHostProcess.Start("--mode", "embedded", "--exit-when-done", "--epochs", "2");
        var login = await host.WaitForLineAsync("Login to the dashboard at ", TimeSpan.FromMinutes(2));
        var loginUrl = login[(login.IndexOf("http", StringComparison.Ordinal))..];
        Assert.Contains("embedded mode", host.Console, StringComparison.Ordinal);
        Assert.Contains("--mode embedded was given", host.Console, StringComparison.Ordinal);
        // The dashboard answers at the printed URL while the AppHost runs.
        using (var http = new HttpClient())
        {
            using var response = await http.GetAsync(loginUrl);
            Assert.True(response.IsSuccessStatusCode, $"{loginUrl} answered {(int)response.StatusCode}");
        }
        // The runs API's address and where its key is, on the console; the key works, nothing else does.
        var apiLine = await host.WaitForLineAsync("CremaD runs API: ", TimeSpan.FromMinutes(3));
        var api = apiLine[(apiLine.IndexOf("http", StringComparison.Ordinal))..].Split(' ')[0];
        var keyLine = await host.WaitForLineAsync("  key: ", TimeSpan.FromSeconds(5));
        var keyFile = keyLine[(keyLine.IndexOf("key: ", StringComparison.Ordinal) + "key: ".Length)..].Split("  ")[0];
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        var key = await File.ReadAllTextAsync(keyFile);
        Assert.True(key.Length >= 48, $"the key in {keyFile} has {key.Length} characters");
        using (var http = new HttpClient())
        {
            using (var anonymous = await http.GetAsync(api)) Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using (var wrong = new HttpRequestMessage(HttpMethod.Get, api))
            {
                wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", new string('k', 48));
                using var refused = await http.SendAsync(wrong);
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);
            }
            using var right = new HttpRequestMessage(HttpMethod.Get, api);
            right.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            using var listed = await http.SendAsync(right);
            Assert.Equal(System.Net.HttpStatusCode.OK, listed.StatusCode);
        }
        var tree = await host.WaitForProcessesAsync(TimeSpan.FromMinutes(3), "CremaD.AllServices", "dcp");

        var exitCode = await host.Exited.WaitAsync(TimeSpan.FromMinutes(8));
        output.WriteLine(host.Console);

        Assert.Equal(0, exitCode);
        var runFolder = Assert.Single(Directory.GetDirectories(host.ArtifactsDirectory));
        foreach (var name in new[] { "best_model", "history.json", "training_curves.png", "confusion_matrix.png", "classification_report.json", "test_metrics.json" })
        {
            Assert.True(new FileInfo(Path.Combine(runFolder, name)) is { Exists: true, Length: > 0 }, $"{name} is missing from {runFolder}");
        }
        Assert.Contains($"completed", host.Console, StringComparison.Ordinal);
        await AssertGoneAsync(tree);
    }

    [RequiresInfrastructureTheory(CremaD.Testing.Infrastructure.RabbitMq | CremaD.Testing.Infrastructure.Azurite)]
    [InlineData(ProcessTree.SigInt)]
    [InlineData(ProcessTree.SigKill)]
    public async Task A_distributed_AppHost_stopped_by_ctrl_c_or_killed_leaves_no_process_of_ours_or_DCPs(int signal)
    {
        await using var host = AppHostProcess.Start("--mode", "distributed", "--no-demo");
        await host.WaitForLineAsync("Login to the dashboard at ", TimeSpan.FromMinutes(2));
        // Every kind of process the AppHost has: DCP, the dashboard, the broker's VM and epmd, Azurite, the four services.
        var tree = await host.WaitForProcessesAsync(TimeSpan.FromMinutes(4), "dcp", "Aspire.Dashboard", "beam.smp", "epmd", "azurite",
            "CremaD.RunsApi", "CremaD.FeatureService", "CremaD.TrainerService", "CremaD.EvaluationService");
        output.WriteLine($"{tree.Count} processes before signal {signal}:\n{string.Join("\n", tree.Select(e => $"{e.Pid} {e.CommandLine}"))}");

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        ProcessTree.Signal(host.ProcessId, signal);
        int exitCode;
        try
        {
            exitCode = await host.Exited.WaitAsync(TimeSpan.FromMinutes(2));
        }
        finally
        {
            // What the AppHost said while stopping: the first thing to read when it does not stop.
            output.WriteLine($"{stopping.Elapsed.TotalSeconds:F1} s after signal {signal}:{Environment.NewLine}{host.Console}");
        }

        if (signal == ProcessTree.SigInt) Assert.Equal(0, exitCode);
        await AssertGoneAsync(tree);
    }

    [RequiresInfrastructureFact(CremaD.Testing.Infrastructure.RabbitMq | CremaD.Testing.Infrastructure.Azurite)]
    public async Task A_broker_that_fails_while_booting_is_restarted_and_the_services_start_after_it()
    {
        // The broker's first boot fails as a port clash made it fail in CI (7 s in, exit 1); the second boots it.
        var folder = Directory.CreateTempSubdirectory("cremad-failing-broker-").FullName;
        try
        {
            var script = Path.Combine(folder, "rabbitmq-server");
            var marker = Path.Combine(folder, "failed-once");
            await File.WriteAllTextAsync(script, $"""
                #!/bin/bash
                if [ ! -e '{marker}' ]; then touch '{marker}'; sleep 3; echo 'BOOT FAILED (test)' >&2; exit 1; fi
                exec /usr/lib/rabbitmq/bin/rabbitmq-server
                """.ReplaceLineEndings("\n"));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            await using var host = AppHostProcess.Start(new Dictionary<string, string> { ["CREMAD_RABBITMQ_SERVER"] = script },
                "--mode", "distributed", "--no-demo");
            var tree = await host.WaitForProcessesAsync(TimeSpan.FromMinutes(4), "beam.smp", "CremaD.RunsApi", "CremaD.FeatureService",
                "CremaD.TrainerService", "CremaD.EvaluationService");
            Assert.True(File.Exists(marker), "the failing first boot did not run");
            Assert.Matches(@"messaging-\w+ exited on its own \(state \w+, exit code 1\) after \d+ s; restart #1", host.Console);
            ProcessTree.Signal(host.ProcessId, ProcessTree.SigInt);
            Assert.Equal(0, await host.Exited.WaitAsync(TimeSpan.FromMinutes(2)));
            await AssertGoneAsync(tree);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Every process of the tree ends within 60 s (after SIGKILL of the AppHost, DCP's monitor stops the rest).</summary>
    private async Task AssertGoneAsync(IReadOnlyList<ProcessTree.Entry> tree)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        IReadOnlyList<ProcessTree.Entry> alive;
        while ((alive = ProcessTree.StillAlive(tree)).Count > 0 && DateTime.UtcNow < deadline) await Task.Delay(500);
        Assert.True(alive.Count == 0, "left behind:\n" + string.Join("\n", alive.Select(e => $"{e.Pid} {e.CommandLine}")));
    }
}
