using System.Diagnostics;
using CremaD.LocalInfrastructure;

namespace CremaD.Orchestration.Resources;

/// <summary>
/// A child process started as the leader of its own session and process group (through setsid, which execs in
/// place, so the pid stays the program's), with its standard output and error read line by line. Stopping signals
/// the whole group, so nothing the program forks is left behind.
/// </summary>
internal sealed class SupervisedProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _id;
    private volatile bool _exited;

    private SupervisedProcess(Process process) => _process = process;

    /// <summary>Process id (and process group id); kept after the exit so the group can still be signalled.</summary>
    public int Id => _id;

    public static SupervisedProcess Start(string executable, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment,
        string workingDirectory, Action<LogStream, string> onLine)
    {
        const string setsid = "/usr/bin/setsid";
        if (!File.Exists(setsid))
        {
            throw new InfrastructureNotInstalledException("setsid (util-linux)", setsid);
        }
        var start = new ProcessStartInfo(setsid)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(executable);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var supervised = new SupervisedProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) supervised._outputDone.TrySetResult();
            else onLine(LogStream.StdOut, e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) supervised._errorDone.TrySetResult();
            else onLine(LogStream.StdErr, e.Data);
        };
        process.Exited += (_, _) => supervised._exited = true;
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {executable}.");
        }
        supervised._id = process.Id;
        // Services never read standard input; closing it gives them end-of-file rather than a pipe that never ends.
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return supervised;
    }

    /// <summary>Waits for the exit and for the last output lines; returns the exit code (128 + signal when killed).</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken = default)
    {
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        // A grandchild could hold the pipes open; the group is killed on stop, so do not wait for ever here.
        await Task.WhenAny(Task.WhenAll(_outputDone.Task, _errorDone.Task), Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None))
            .ConfigureAwait(false);
        return _process.ExitCode;
    }

    public bool HasExited => _exited;

    /// <summary>Sends <paramref name="signal"/> to every process of the group.</summary>
    public void SignalGroup(int signal)
    {
        ProcessGroup.SignalProcessGroup(Id, signal);
        // Right after the start, setsid may not have made the group yet; the process itself gets the signal either way.
        if (!HasExited) ProcessGroup.SignalProcess(Id, signal);
    }

    /// <summary>SIGTERM to the group; SIGKILL to what is left after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (HasExited)
        {
            SignalGroup(ProcessGroup.SigKill);
            return;
        }
        SignalGroup(ProcessGroup.SigTerm);
        using var limit = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // It ignored SIGTERM for the whole grace period.
        }
        // Also reaps helpers the program forked that outlived it.
        SignalGroup(ProcessGroup.SigKill);
        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Reported by the caller's orphan check.
        }
    }

    public void Dispose() => _process.Dispose();
}
