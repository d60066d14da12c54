using System.Diagnostics;
using System.Reflection;
using System.Text;
using CremaD.AppHost.Infrastructure;
using CremaD.LocalInfrastructure;

namespace CremaD.AppHost.Tests;

/// <summary>
/// The built AppHost started as a user starts it (<c>dotnet CremaD.AppHost.dll</c> with its launch profile's settings,
/// on free ports), with its console captured.
/// </summary>
public sealed class AppHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _console = new();
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AppHostProcess(Process process, string artifacts, int dashboardPort)
    {
        _process = process;
        ArtifactsDirectory = artifacts;
        DashboardPort = dashboardPort;
    }

    public int ProcessId => _process.Id;

    public string ArtifactsDirectory { get; }

    public int DashboardPort { get; }

    public string Console
    {
        get
        {
            lock (_console) return _console.ToString();
        }
    }

    public Task<int> Exited => _exited.Task;

    /// <summary>The AppHost's build output, in the configuration these tests were built in.</summary>
    public static string AssemblyPath =>
        Path.Combine(InfrastructureResourceExtensions.RepositoryRoot, "CremaD.AppHost", "bin",
            typeof(AppHostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration, "net10.0", "CremaD.AppHost.dll");

    public static AppHostProcess Start(params string[] arguments) => Start(new Dictionary<string, string>(), arguments);

    /// <param name="environment">Variables set for the AppHost (and so for what DCP starts) on top of the test's own.</param>
    public static AppHostProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var artifacts = Directory.CreateTempSubdirectory("cremad-apphost-test-").FullName;
        var ports = FreePorts.Allocate(3);
        // Through GNU env, which resets SIGINT to its default before it execs dotnet (same process): a test run started in
        // the background by a shell without job control inherits SIGINT ignored, and .NET keeps an ignored SIGINT ignored,
        // so the Ctrl+C test would signal an AppHost that cannot hear it (seen in CI runs started with `&`).
        var start = new ProcessStartInfo("/usr/bin/env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(AssemblyPath)!,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(AssemblyPath);
        foreach (var argument in (string[])[.. arguments, "--artifacts-dir", artifacts]) start.ArgumentList.Add(argument);
        // What Properties/launchSettings.json sets for `dotnet run`, on free ports.
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["DOTNET_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = $"http://localhost:{ports[0]}";
        start.Environment["DOTNET_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://localhost:{ports[1]}";
        start.Environment["DOTNET_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = $"http://localhost:{ports[2]}";
        start.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var host = new AppHostProcess(process, artifacts, ports[0]);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.Exited += (_, _) => host._exited.TrySetResult(process.ExitCode);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_console) _console.AppendLine(line);
    }

    /// <summary>Waits until the console has a line containing <paramref name="text"/>; returns that line.</summary>
    public async Task<string> WaitForLineAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var line = Console.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null) return line.Trim();
            if (_exited.Task.IsCompleted) break;
            await Task.Delay(250);
        }
        throw new TimeoutException($"No line with '{text}' after {clock.Elapsed.TotalSeconds:0} s (exited: {_exited.Task.IsCompleted}). Console:\n{Console}");
    }

    /// <summary>Waits until the AppHost's process tree holds a process whose command line contains each of <paramref name="markers"/>.</summary>
    public async Task<IReadOnlyList<ProcessTree.Entry>> WaitForProcessesAsync(TimeSpan timeout, params string[] markers)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var tree = ProcessTree.Of(ProcessId);
            var missing = markers.Where(m => !tree.Any(e => e.CommandLine.Contains(m, StringComparison.Ordinal))).ToList();
            if (missing.Count == 0) return tree;
            if (clock.Elapsed > timeout || _exited.Task.IsCompleted)
            {
                throw new TimeoutException($"Missing processes after {clock.Elapsed.TotalSeconds:0} s: {string.Join(", ", missing)}.\nTree:\n" +
                                           string.Join("\n", tree.Select(e => $"{e.Pid} {e.CommandLine}")) + $"\nConsole:\n{Console}");
            }
            await Task.Delay(500);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            var tree = ProcessTree.Of(ProcessId);
            foreach (var entry in tree.Reverse()) try { ProcessTree.Signal(entry.Pid, ProcessTree.SigKill); } catch (InvalidOperationException) { }
        }
        await Task.WhenAny(_exited.Task, Task.Delay(TimeSpan.FromSeconds(10)));
        _process.Dispose();
        try
        {
            Directory.Delete(ArtifactsDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
