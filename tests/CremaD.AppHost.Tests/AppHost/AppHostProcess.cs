using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using CremaD.LocalInfrastructure;
using CremaD.Orchestration.AppHost;

namespace CremaD.AppHost.Tests.AppHost;

/// <summary>
/// The real AppHost (<c>dotnet CremaD.AppHost.dll</c>, built through the test project's reference) as a separate process
/// on free ports, with its console in a log file; it finds the dashboard's login URL in the console and gives a client
/// for the dashboard API. Dispose sends SIGTERM (as Ctrl+C would) and waits for the orderly stop.
/// </summary>
internal sealed partial class AppHostProcess : IAsyncDisposable
{
    private readonly ProcessGroup _process;

    private AppHostProcess(ProcessGroup process, string directory)
    {
        _process = process;
        Directory = directory;
    }

    /// <summary>The working directory (artifacts/ lands here).</summary>
    public string Directory { get; }

    public int ProcessId => _process.Id;

    public Uri DashboardAddress { get; private set; } = null!;

    /// <summary>The login URL the AppHost printed (<c>/login?t=TOKEN</c>): what a user opens in a browser.</summary>
    public Uri LoginUrl { get; private set; } = null!;

    public HttpClient Dashboard { get; private set; } = null!;

    public string Console => ProcessGroup.ReadTail(_process.LogFile, 400);

    public static async Task<AppHostProcess> StartAsync(params string[] arguments)
    {
        var root = RepositoryRoot.Find();
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0/
        var assembly = Path.Combine(root, "CremaD.AppHost", "bin", configuration, "net10.0", "CremaD.AppHost.dll");
        Assert.True(File.Exists(assembly), $"{assembly} is missing: the test project builds it through its project reference.");
        var directory = System.IO.Directory.CreateTempSubdirectory("cremad-apphost-test-").FullName;
        var process = ProcessGroup.Start("dotnet", [assembly, "--dashboard-port", "0", "--otlp-port", "0", .. arguments],
            new Dictionary<string, string?> { ["ConnectionStrings__messaging"] = null, ["ConnectionStrings__blobs"] = null },
            directory, Path.Combine(directory, "apphost.log"));
        var host = new AppHostProcess(process, directory);
        try
        {
            var login = await host.WaitForConsoleAsync(LoginLine(), TimeSpan.FromMinutes(2));
            var url = new Uri(login.Groups["url"].Value);
            host.LoginUrl = url;
            host.DashboardAddress = new Uri(url.GetLeftPart(UriPartial.Authority));
            host.Dashboard = new HttpClient { BaseAddress = host.DashboardAddress, Timeout = TimeSpan.FromSeconds(30) };
            host.Dashboard.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.Groups["token"].Value);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for a console line matching <paramref name="pattern"/>; fails early if the AppHost exits.</summary>
    public async Task<Match> WaitForConsoleAsync(Regex pattern, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var match = pattern.Match(ReadConsole());
            if (match.Success) return match;
            if (_process.HasExited) throw new InvalidOperationException($"The AppHost exited with code {_process.ExitCode}:\n{Console}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No console line matching {pattern} within {timeout.TotalSeconds:0} s:\n{Console}");
            await Task.Delay(250);
        }
    }

    public async Task<JsonElement> GetJsonAsync(string path) => await Dashboard.GetFromJsonAsync<JsonElement>(path);

    /// <summary>The resources as the dashboard lists them.</summary>
    public async Task<IReadOnlyList<JsonElement>> ResourcesAsync() =>
        (await GetJsonAsync("api/resources")).GetProperty("resources").EnumerateArray().ToList();

    public async Task<JsonElement> ResourceAsync(string name) =>
        (await ResourcesAsync()).Single(r => r.GetProperty("name").GetString() == name);

    /// <summary>Polls <paramref name="probe"/> until it returns a value; fails early if the AppHost exits.</summary>
    public async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what) where T : struct
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } value) return value;
            if (_process.HasExited) throw new InvalidOperationException($"The AppHost exited with code {_process.ExitCode} while waiting for {what}:\n{Console}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Not within {timeout.TotalSeconds:0} s: {what}.\n{Console}");
            await Task.Delay(500);
        }
    }

    /// <summary>Waits for the AppHost to exit on its own (--exit-when-done); returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        if (!await _process.WaitForExitAsync(timeout)) throw new TimeoutException($"The AppHost did not exit within {timeout.TotalSeconds:0} s:\n{Console}");
        return _process.ExitCode;
    }

    /// <summary>SIGTERM to the AppHost alone (its children are in their own process groups); returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited) ProcessGroup.SignalProcess(_process.Id, ProcessGroup.SigTerm);
        return await WaitForExitAsync(timeout);
    }

    /// <summary>Live processes the AppHost started: its services (marker variable) and its private RabbitMQ and Azurite.</summary>
    public IReadOnlyList<ProcessEntry> FindChildren() => ProcessTable.Find(p =>
        (p.Environment.TryGetValue(AppHostRunner.MarkerVariable, out var id) && id.StartsWith($"apphost-{ProcessId}-", StringComparison.Ordinal))
        || (p.Environment.TryGetValue(InfrastructureInstance.MarkerVariable, out var infrastructure)
            && (infrastructure.StartsWith($"rabbitmq-{ProcessId}-", StringComparison.Ordinal) || infrastructure.StartsWith($"azurite-{ProcessId}-", StringComparison.Ordinal))));

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            ProcessGroup.SignalProcess(_process.Id, ProcessGroup.SigTerm);
            if (!await _process.WaitForExitAsync(TimeSpan.FromSeconds(60))) _process.Signal(ProcessGroup.SigKill);
        }
        await ProcessTable.KillAndWaitAsync(p => FindChildren().Any(c => c.Id == p.Id), TimeSpan.FromSeconds(10));
        _process.Dispose();
        Dashboard?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Temp space; a late writer may still hold a file.
        }
    }

    private string ReadConsole()
    {
        try
        {
            using var stream = new FileStream(_process.LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    [GeneratedRegex(@"Dashboard: (?<url>http://(localhost|127\.0\.0\.1):\d+/login\?t=(?<token>[0-9a-f]+))")]
    private static partial Regex LoginLine();
}
