using CremaD.LocalInfrastructure;
using CremaD.Orchestration.Resources;

namespace CremaD.AppHost.Tests.AppHost;

/// <summary>The supervisor on real processes (POSIX shell scripts): restarts with back-off, exit codes, group kill on stop.</summary>
public sealed class ProcessSupervisionTests
{
    private static readonly RestartPolicy Quick = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
    private static readonly Dictionary<string, string> NoMarker = new();

    private static ProjectResource Script(string name, string script, RestartPolicy? policy = null, IReadOnlyList<Resource>? dependsOn = null) =>
        new(name, "test script", new ProjectLaunch("/bin/sh", ["-c", script], null, Path.GetTempPath(), FreePorts.AllocateOne(),
            new Dictionary<string, string> { ["GREETING"] = "hello from the environment" }), dependsOn ?? [], NoMarker, policy ?? Quick);

    [Fact]
    public void Back_off_doubles_up_to_the_limit()
    {
        var policy = new RestartPolicy(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], Enumerable.Range(1, 7).Select(n => policy.DelayFor(n).TotalSeconds));
    }

    [Fact]
    public async Task A_crashing_process_is_restarted_with_back_off_and_its_exit_code_is_kept()
    {
        var resource = Script("crasher", "echo \"$GREETING\"; echo oops >&2; exit 3");
        await resource.StartAsync(CancellationToken.None);
        try
        {
            await Eventually(() => resource.Restarts >= 3, TimeSpan.FromSeconds(30));
            var snapshot = resource.Snapshot();
            Assert.Equal(3, snapshot.LastExitCode);
            var lines = resource.Logs.After(0, 1000);
            Assert.Contains(lines, l => l.Stream == LogStream.StdOut && l.Text == "hello from the environment");
            Assert.Contains(lines, l => l.Stream == LogStream.StdErr && l.Text == "oops");
            Assert.Contains(lines, l => l.Stream == LogStream.System && l.Text.Contains("exited with code 3; restart in", StringComparison.Ordinal));
        }
        finally
        {
            await resource.StopAsync();
        }
        Assert.Equal(ResourceState.Stopped, resource.State);
    }

    [Fact]
    public async Task Kill_is_treated_as_a_crash_and_the_process_comes_back_with_a_new_pid()
    {
        var resource = Script("sleeper", "exec sleep 300");
        await resource.StartAsync(CancellationToken.None);
        try
        {
            var first = resource.ProcessId!.Value;
            Assert.True(resource.Kill());
            await Eventually(() => resource.Restarts == 1 && resource.State == ResourceState.Running && resource.ProcessId is { } pid && pid != first,
                TimeSpan.FromSeconds(30));
            Assert.Equal(128 + ProcessGroup.SigKill, resource.Snapshot().LastExitCode);
            Assert.False(Directory.Exists($"/proc/{first}"));
        }
        finally
        {
            await resource.StopAsync();
        }
    }

    [Fact]
    public async Task Stop_takes_down_what_the_process_forked_and_does_not_restart_it()
    {
        var childFile = Path.Combine(Path.GetTempPath(), $"cremad-child-{Guid.NewGuid():N}");
        var resource = Script("forker", $"sleep 300 & echo $! > {childFile}; trap '' TERM; wait");
        await resource.StartAsync(CancellationToken.None);
        await Eventually(() => File.Exists(childFile) && new FileInfo(childFile).Length > 0, TimeSpan.FromSeconds(10));
        var child = int.Parse(File.ReadAllText(childFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var parent = resource.ProcessId!.Value;
        try
        {
            Assert.True(Directory.Exists($"/proc/{child}"));
            // The script ignores SIGTERM: the supervisor must fall back to SIGKILL on the whole group.
            await resource.StopAsync();
            Assert.Equal(ResourceState.Stopped, resource.State);
            Assert.Equal(0, resource.Restarts);
            await Eventually(() => !Directory.Exists($"/proc/{child}") && !Directory.Exists($"/proc/{parent}"), TimeSpan.FromSeconds(10));
        }
        finally
        {
            File.Delete(childFile);
            ProcessGroup.SignalProcessGroup(parent, ProcessGroup.SigKill);
        }
    }

    [Fact]
    public async Task A_dependent_waits_until_its_dependency_is_healthy()
    {
        var gate = new GateResource("dependency");
        var dependent = Script("dependent", "exec sleep 300", dependsOn: [gate]);
        var orchestrator = new Orchestrator([gate, dependent]);
        orchestrator.Start();
        try
        {
            await Eventually(() => dependent.Snapshot().Detail == "waiting for dependency", TimeSpan.FromSeconds(10));
            await Task.Delay(1500);
            Assert.Equal(ResourceState.Waiting, dependent.State);
            Assert.Null(dependent.ProcessId);

            gate.Open = true;
            await Eventually(() => dependent.State == ResourceState.Running, TimeSpan.FromSeconds(15));
            Assert.Equal(["dependency"], orchestrator.Snapshot().Single(r => r.Name == "dependent").DependsOn);
        }
        finally
        {
            await orchestrator.StopAsync();
        }
        Assert.All(orchestrator.Snapshot(), r => Assert.Equal(ResourceState.Stopped, r.State));
    }

    private static async Task Eventually(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Condition not met within {timeout.TotalSeconds} s.");
            await Task.Delay(50);
        }
    }

    /// <summary>A resource without a process whose health probe passes once the test opens it.</summary>
    private sealed class GateResource(string name) : Resource(name, ResourceKind.Infrastructure, "test gate")
    {
        public volatile bool Open;

        public override IReadOnlyList<string> Endpoints => [];

        public override IReadOnlyDictionary<string, string> ReferenceEnvironment => new Dictionary<string, string>();

        public override Task StartAsync(CancellationToken cancellationToken)
        {
            SetState(ResourceState.Running);
            return Task.CompletedTask;
        }

        public override Task<bool> ProbeHealthAsync(CancellationToken cancellationToken) => Task.FromResult(Open);

        public override Task StopAsync()
        {
            SetState(ResourceState.Stopped);
            return Task.CompletedTask;
        }
    }
}
