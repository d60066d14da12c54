using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace CremaD.LocalInfrastructure;

/// <summary>
/// One of the service hosts (<c>services/&lt;Name&gt;</c>) running as a separate OS process, as it is deployed:
/// <c>dotnet services/&lt;Name&gt;/bin/&lt;Configuration&gt;/net10.0/&lt;Name&gt;.dll</c>, configured only through its
/// environment, in its own process group (<see cref="ProcessGroup"/>) with its output in a log file, and ready once its
/// <c>/health</c> answers 200 (which includes the bus). The group is killed when this object is disposed, when this process
/// exits, and, through an <see cref="OrphanWatchdog"/>, when this process is killed outright, so no host outlives its owner.
/// The one launcher of service hosts, for the process tests (tests/CremaD.Services.Tests) and the services benchmark.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly ProcessGroup _group;
    private readonly ProcessGroup _watchdog;
    private readonly EventHandler _killOnExit;
    private readonly HttpClient _http;
    private long _peakMemoryBytes;

    private ServiceProcess(string name, string host, ProcessGroup group, ProcessGroup watchdog, Uri address)
    {
        Name = name;
        Host = host;
        _group = group;
        _watchdog = watchdog;
        Address = address;
        _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        _killOnExit = (_, _) => group.Signal(ProcessGroup.SigKill);
        AppDomain.CurrentDomain.ProcessExit += _killOnExit;
    }

    /// <summary>A name for logs and telemetry (OTEL_SERVICE_NAME), e.g. "features-2".</summary>
    public string Name { get; }

    /// <summary>The host project, e.g. "CremaD.FeatureService".</summary>
    public string Host { get; }

    public int ProcessId => _group.Id;

    /// <summary>http://127.0.0.1:&lt;port&gt;/ (ASPNETCORE_URLS).</summary>
    public Uri Address { get; }

    /// <summary>An HTTP client on <see cref="Address"/> (the runs API's endpoints, /health).</summary>
    public HttpClient Http => _http;

    public string LogFile => _group.LogFile;

    public bool HasExited => _group.HasExited;

    /// <summary>The configuration the hosts were built in: the same as this assembly's.</summary>
    public static string BuildConfiguration =>
        typeof(ServiceProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>The built host: services/&lt;host&gt;/bin/&lt;configuration&gt;/net10.0/&lt;host&gt;.dll.</summary>
    public static string HostAssembly(string host) =>
        Path.Combine(RepositoryRoot.Find(), "services", host, "bin", BuildConfiguration, "net10.0", host + ".dll");

    /// <summary>
    /// The environment every host needs: the broker (<c>ConnectionStrings__messaging</c>), blob storage
    /// (<c>ConnectionStrings__blobs</c>), the shared container and this process's own scratch folder; service logs at
    /// Information for CremaD's categories, Warning for the rest.
    /// </summary>
    public static Dictionary<string, string?> BaseEnvironment(string messaging, string blobs, string container, string workDirectory) =>
        new(StringComparer.Ordinal)
        {
            ["ConnectionStrings__messaging"] = messaging,
            ["ConnectionStrings__blobs"] = blobs,
            ["CremaD__BlobContainer"] = container,
            ["CremaD__WorkDirectory"] = workDirectory,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__CremaD"] = "Information",
            // A fresh key per call: only a runs API reads it, and its Http sends it (StartAsync).
            [RunsApiKeyVariable] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)),
        };

    /// <summary>The environment variable of the runs API's key (configuration <c>RunsApi:ApiKey</c>).</summary>
    public const string RunsApiKeyVariable = "RunsApi__ApiKey";

    /// <summary>
    /// Starts <paramref name="host"/> with <paramref name="environment"/> (on top of this process's; null removes a variable)
    /// on a free loopback port and waits until its /health answers 200.
    /// </summary>
    /// <exception cref="InvalidOperationException">The host exited or was not healthy within <paramref name="startTimeout"/>; the message holds its log tail.</exception>
    public static async Task<ServiceProcess> StartAsync(string host, string name, IReadOnlyDictionary<string, string?> environment,
        string logDirectory, TimeSpan startTimeout, CancellationToken cancellationToken = default, IReadOnlyList<int>? cpus = null)
    {
        var assembly = HostAssembly(host);
        if (!File.Exists(assembly))
        {
            throw new FileNotFoundException($"{assembly} is not built: build the project that references services/{host} (it builds the hosts).", assembly);
        }
        Directory.CreateDirectory(logDirectory);
        for (var attempt = 1; ; attempt++)
        {
            var service = Launch(host, name, assembly, environment, logDirectory, cpus);
            // A runs API's key, when the host is given one: Http is then an authenticated client of it.
            if (environment.TryGetValue(RunsApiKeyVariable, out var key) && !string.IsNullOrEmpty(key))
            {
                service._http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            }
            try
            {
                await service.WaitUntilHealthyAsync(startTimeout, cancellationToken).ConfigureAwait(false);
                return service;
            }
            catch (PortTakenException) when (attempt < 3)
            {
                // Another process took the free port before the host bound it: once more, on a fresh port.
                await service.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await service.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    private static ServiceProcess Launch(string host, string name, string assembly, IReadOnlyDictionary<string, string?> environment,
        string logDirectory, IReadOnlyList<int>? cpus)
    {
        var port = FreePorts.AllocateOne();
        var address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = address.ToString().TrimEnd('/'),
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["OTEL_SERVICE_NAME"] = name,
            // Telemetry stays in the process unless the caller points it somewhere.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = null,
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var (key, value) in environment) variables[key] = value;

        var logFile = Path.Combine(logDirectory, name + ".log");
        // A retry appends to the same log: what the failed attempt said stays readable.
        // taskset execs the host in its own place (same process, same group) with the affinity set; .NET then sizes its
        // thread pool and Environment.ProcessorCount to those cores.
        var group = cpus is { Count: > 0 }
            ? ProcessGroup.Start("taskset", ["-c", string.Join(',', cpus), DotnetHost(), assembly], variables, Path.GetDirectoryName(assembly)!, logFile)
            : ProcessGroup.Start(DotnetHost(), [assembly], variables, Path.GetDirectoryName(assembly)!, logFile);
        var watchdog = StartWatchdog(group.Id, Path.Combine(logDirectory, name + ".watchdog.log"));
        return new ServiceProcess(name, host, group, watchdog, address);
    }

    /// <summary>The host exited while starting because its port was taken (Kestrel: "address already in use").</summary>
    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    /// <summary>
    /// Peak resident memory so far (VmHWM from /proc/&lt;pid&gt;/status), in bytes; the last value read once the process has
    /// exited. Read it before stopping the process for its whole life.
    /// </summary>
    public long PeakMemoryBytes()
    {
        // Once exited, keep the last reading.
        if (ReadPeakMemoryBytes(ProcessId) is { } bytes) _peakMemoryBytes = Math.Max(_peakMemoryBytes, bytes);
        return _peakMemoryBytes;
    }

    /// <summary>CPU time (user + system) the host has used so far, in seconds; the last value read once it has exited.</summary>
    public double CpuSeconds()
    {
        if (ReadCpuSeconds(ProcessId) is { } seconds) _cpuSeconds = Math.Max(_cpuSeconds, seconds);
        return _cpuSeconds;
    }

    private double _cpuSeconds;

    /// <summary>
    /// CPU time (user + system, fields 14 and 15 of /proc/&lt;pid&gt;/stat) of any process, in seconds; null when it cannot be
    /// read (gone). Clock ticks are USER_HZ, 100 a second on every Linux the kernel ABI allows.
    /// </summary>
    public static double? ReadCpuSeconds(int processId)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{processId}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>VmHWM (peak resident set) of any process, in bytes; null when it cannot be read (gone).</summary>
    public static long? ReadPeakMemoryBytes(int processId)
    {
        try
        {
            var line = File.ReadLines($"/proc/{processId}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>SIGKILL to the host's process group, as a crash or an OOM kill would end it; waits until it is gone.</summary>
    public async Task KillAsync()
    {
        PeakMemoryBytes();
        CpuSeconds();
        _group.Signal(ProcessGroup.SigKill);
        await _group.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>SIGTERM (graceful shutdown: in-flight messages are finished or returned), SIGKILL after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        PeakMemoryBytes();
        CpuSeconds();
        _group.Signal(ProcessGroup.SigTerm);
        if (!await _group.WaitForExitAsync(grace).ConfigureAwait(false)) await KillAsync().ConfigureAwait(false);
    }

    /// <summary>The last lines of the host's log, for failure messages.</summary>
    public string LogTail(int lines = 40) => $"--- {Name} ({Host}, pid {ProcessId}) ---{System.Environment.NewLine}{_group.ReadLogTail(lines)}";

    public async ValueTask DisposeAsync()
    {
        if (!_group.HasExited) await KillAsync().ConfigureAwait(false);
        AppDomain.CurrentDomain.ProcessExit -= _killOnExit;
        _watchdog.Signal(ProcessGroup.SigKill);
        _watchdog.Dispose();
        _group.Dispose();
        _http.Dispose();
    }

    private async Task WaitUntilHealthyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        string last = "no answer";
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_group.HasExited)
            {
                var message = $"{Name} exited with code {_group.ExitCode} while starting.{System.Environment.NewLine}{LogTail()}";
                throw _group.ReadLogTail(40).Contains($"{Address.ToString().TrimEnd('/')}: address already in use", StringComparison.OrdinalIgnoreCase)
                    ? new PortTakenException(message)
                    : new InvalidOperationException(message);
            }
            try
            {
                using var response = await _http.GetAsync("/health", cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode) return;
                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
        throw new InvalidOperationException($"{Name} was not healthy after {timeout.TotalSeconds:0} s ({last}).{System.Environment.NewLine}{LogTail()}");
    }

    /// <summary>
    /// Kills the host's group when this process dies while the host lives (its /proc entry is the watchdog's marker): the
    /// host dies with its owner even when the owner is killed with SIGKILL and runs no cleanup.
    /// </summary>
    private static ProcessGroup StartWatchdog(int hostGroup, string logFile)
    {
        var group = hostGroup.ToString(CultureInfo.InvariantCulture);
        return OrphanWatchdog.Start($"/proc/{group}", $"kill -9 -{group} 2>/dev/null", logFile);
    }

    /// <summary>The dotnet executable of the running runtime (…/dotnet/shared/Microsoft.NETCore.App/&lt;version&gt;/ → …/dotnet/dotnet).</summary>
    private static string DotnetHost()
    {
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(root, "dotnet");
        if (File.Exists(candidate)) return candidate;
        return System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
    }
}
