using System.Diagnostics;

namespace CremaD.LocalInfrastructure;

/// <summary>
/// What the private server instances (<see cref="RabbitMqInstance"/>, <see cref="AzuriteInstance"/>) share:
/// a private directory, a marker variable in the environment of every process they start (so leftovers can
/// be found in /proc whatever they were forked as), cleanup at process exit, an orphan watchdog, and the one
/// start-wait-retry loop (<see cref="StartAsync{TInstance}"/>).
/// </summary>
public abstract class InfrastructureInstance : IAsyncDisposable
{
    /// <summary>Environment variable set to <see cref="InstanceId"/> in every process an instance starts.</summary>
    public const string MarkerVariable = "CREMAD_INFRASTRUCTURE_ID";

    private readonly IDisposable _exitCleanup;
    private ProcessGroup? _watchdog;
    private int _disposed;

    protected InfrastructureInstance(string kind)
    {
        InstanceId = $"{kind}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";
        Directory = System.IO.Directory.CreateTempSubdirectory($"cremad-{kind}-").FullName;
        _exitCleanup = ExitCleanup.Register(CleanUpAtExit);
    }

    /// <summary>Unique id of this instance (also the value of <see cref="MarkerVariable"/> in its processes).</summary>
    public string InstanceId { get; }

    /// <summary>The instance's private directory (configuration, data, logs), deleted on dispose.</summary>
    public string Directory { get; }

    /// <summary>Process id (and process group id) of the server, while it runs.</summary>
    public int? ServerProcessId => Server?.Id;

    /// <summary>The server's console output (standard output and error), appended while it runs.</summary>
    public string ConsoleLog => Path.Combine(Directory, "console.log");

    /// <summary>The server's process group, from <see cref="Launch"/> until it is stopped.</summary>
    protected ProcessGroup? Server { get; set; }

    /// <summary>The server as messages name it, e.g. "Azurite".</summary>
    protected abstract string DisplayName { get; }

    /// <summary>How long <see cref="StartAsync{TInstance}"/> waits for <see cref="IsReadyAsync"/>.</summary>
    protected abstract TimeSpan StartTimeout { get; }

    /// <summary>What the instance waits for, for the timeout message: "its blob endpoint … to answer".</summary>
    protected abstract string ReadinessDescription { get; }

    /// <summary>
    /// Launches an instance made by <paramref name="create"/> and returns it once <see cref="IsReadyAsync"/> holds. A
    /// server that exits while starting most likely lost one of its free ports to another process before binding it:
    /// one more instance, with fresh ports, is tried. The instance is disposed on every failure.
    /// </summary>
    protected static async Task<TInstance> StartAsync<TInstance>(Func<TInstance> create, CancellationToken cancellationToken)
        where TInstance : InfrastructureInstance
    {
        for (var attempt = 1; ; attempt++)
        {
            var instance = create();
            try
            {
                instance.Launch();
                instance.StartWatchdog();
                await instance.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
                return instance;
            }
            catch (InfrastructureStartException e) when (e.ServerExited && attempt < 2)
            {
                await instance.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await instance.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>Starts the server process (sets <see cref="Server"/>).</summary>
    protected abstract void Launch();

    /// <summary>True once the server serves clients; false or an exception while it is still booting.</summary>
    protected abstract Task<bool> IsReadyAsync(CancellationToken cancellationToken);

    /// <summary>The tails of the server's logs, appended to start failures.</summary>
    protected virtual string Diagnostics() => LogTail(ConsoleLog);

    protected static string LogTail(string path) =>
        $"{System.Environment.NewLine}--- {path} ---{System.Environment.NewLine}{ProcessGroup.ReadTail(path, 30)}";

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        Exception? lastFailure = null;
        while (clock.Elapsed < StartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Server!.HasExited)
            {
                throw new InfrastructureStartException(
                    $"{DisplayName} exited with code {Server.ExitCode} while starting.{Diagnostics()}", serverExited: true);
            }
            try
            {
                if (await IsReadyAsync(cancellationToken).ConfigureAwait(false)) return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                lastFailure = e;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }
        throw new InfrastructureStartException(
            $"{DisplayName} did not start within {StartTimeout.TotalSeconds:0} s: waited for {ReadinessDescription}" +
            (lastFailure is null ? "." : $"; last attempt: {lastFailure.Message}.") + Diagnostics(),
            serverExited: false, lastFailure);
    }

    /// <summary>
    /// Kills the server and every process of it at once (SIGKILL, as a crash or an OOM kill would) and waits until they
    /// are gone. Its folder, and so its data when the server keeps data on disk, stays for <see cref="RestartAsync"/>.
    /// </summary>
    public async Task KillAsync()
    {
        KillAll();
        await ForgetServerAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops the server with SIGTERM, as a service manager or an operator would (it may save its state), and waits until
    /// its processes are gone (killing what is left after 30 s). Its folder stays for <see cref="RestartAsync"/>.
    /// </summary>
    public async Task TerminateAsync()
    {
        if (Server is { HasExited: false } server)
        {
            server.Signal(ProcessGroup.SigTerm);
            await server.WaitForExitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        KillAll();
        await ForgetServerAsync().ConfigureAwait(false);
    }

    private async Task ForgetServerAsync()
    {
        await ProcessTable.KillAndWaitAsync(Owns, TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        if (Server is not null)
        {
            await Server.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            Server.Dispose();
            Server = null;
        }
    }

    /// <summary>Starts the server again after <see cref="KillAsync"/>: the same ports, the same folder; returns once it serves.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (Server is { HasExited: false }) throw new InvalidOperationException($"{DisplayName} is still running; kill it first.");
        Server?.Dispose();
        Launch();
        await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True for a process this instance started (directly or through its children), by its marker variable.</summary>
    public bool Owns(ProcessEntry process) =>
        process.Environment.TryGetValue(MarkerVariable, out var id) && id == InstanceId;

    /// <summary>The live processes of this instance.</summary>
    public IReadOnlyList<ProcessEntry> FindOwnProcesses() => ProcessTable.Find(Owns);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await StopAsync().ConfigureAwait(false);
            var survivors = await ProcessTable.KillAndWaitAsync(Owns, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            DeleteDirectory();
            if (survivors.Count > 0)
            {
                throw new InvalidOperationException(
                    $"{InstanceId}: processes survive SIGKILL: {string.Join("; ", survivors)}");
            }
        }
        finally
        {
            StopWatchdog();
            _exitCleanup.Dispose();
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Stops the server gracefully where it can, then forcefully; the base class then sweeps leftovers.</summary>
    protected abstract Task StopAsync();

    /// <summary>Synchronous, fast cleanup for process exit: kill everything, no graceful stop.</summary>
    protected virtual void KillAll()
    {
        foreach (var process in FindOwnProcesses())
        {
            ProcessGroup.SignalProcess(process.Id, ProcessGroup.SigKill);
        }
    }

    /// <summary>Shell commands that kill this instance's processes, for the orphan watchdog.</summary>
    protected virtual string OrphanCleanupScript() =>
        (Server is null ? "" : $"kill -9 -- -{Server.Id} 2>/dev/null; ") +
        $"for p in /proc/[0-9]*; do grep -qzx {OrphanWatchdog.Quote($"{MarkerVariable}={InstanceId}")} \"$p/environ\" 2>/dev/null && kill -9 \"${{p#/proc/}}\"; done";

    /// <summary>Environment entries every process of this instance gets.</summary>
    protected Dictionary<string, string?> BaseEnvironment() => new(StringComparer.Ordinal) { [MarkerVariable] = InstanceId };

    /// <summary>Starts the watchdog that cleans up if the test process is killed outright.</summary>
    private void StartWatchdog()
    {
        var script = OrphanCleanupScript() + "; rm -rf " + OrphanWatchdog.Quote(Directory);
        _watchdog = OrphanWatchdog.Start(Directory, script, Path.Combine(Directory, "watchdog.log"));
    }

    private void StopWatchdog()
    {
        if (_watchdog is not null)
        {
            _watchdog.Signal(ProcessGroup.SigKill);
            _watchdog.Dispose();
            _watchdog = null;
        }
    }

    private void CleanUpAtExit()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
        KillAll();
        DeleteDirectory();
        StopWatchdog();
    }

    private void DeleteDirectory()
    {
        for (var attempt = 0; attempt < 5 && System.IO.Directory.Exists(Directory); attempt++)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException) when (attempt < 4)
            {
                // A dying process may still be writing a log file; try again shortly.
                Thread.Sleep(200);
            }
        }
    }
}
