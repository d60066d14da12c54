using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CremaD.LocalInfrastructure;

/// <summary>
/// A program started as the leader of its own session and process group (through setsid), with standard
/// input from /dev/null and standard output and error appended to a log file. The whole group, including
/// helpers the program forks, can then be signalled at once. Output goes to a file rather than a pipe because
/// daemons the program leaves behind (epmd) would otherwise hold the pipe open and stall readers.
/// Linux only (setsid, process groups, /proc), like the rest of this library.
/// </summary>
public sealed class ProcessGroup : IDisposable
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    private readonly Process _process;

    private ProcessGroup(Process process, string logFile)
    {
        _process = process;
        LogFile = logFile;
    }

    /// <summary>Process id of the program, which is also its process group id.</summary>
    public int Id => _process.Id;

    /// <summary>Where the program's output goes.</summary>
    public string LogFile { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>
    /// Starts <paramref name="executable"/> in a new process group. <paramref name="environment"/> is applied
    /// on top of this process's environment; a null value removes the variable.
    /// </summary>
    public static ProcessGroup Start(string executable, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?> environment, string workingDirectory, string logFile)
    {
        const string setsid = "/usr/bin/setsid";
        if (!File.Exists(setsid))
        {
            throw new InfrastructureNotInstalledException("setsid (util-linux)", setsid, "sudo apt-get install -y util-linux");
        }
        var start = new ProcessStartInfo(setsid)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
        };
        // setsid makes the child a session and group leader (the child is not a group leader yet, so setsid
        // does not fork and the pid stays the program's); sh then redirects and execs the program in place.
        start.ArgumentList.Add("/bin/sh");
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1");
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(logFile);
        start.ArgumentList.Add(executable);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        var process = Process.Start(start)
                      ?? throw new InvalidOperationException($"Could not start {executable}.");
        return new ProcessGroup(process, logFile);
    }

    /// <summary>
    /// Runs a program to completion in its own process group; if it has not finished within
    /// <paramref name="timeout"/>, kills the group.
    /// </summary>
    /// <returns>The exit code, or null when it timed out.</returns>
    public static async Task<int?> RunAsync(string executable, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?> environment, string workingDirectory, string logFile, TimeSpan timeout)
    {
        using var group = Start(executable, arguments, environment, workingDirectory, logFile);
        if (await group.WaitForExitAsync(timeout).ConfigureAwait(false))
        {
            return group.ExitCode;
        }
        group.Signal(SigKill);
        await group.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return null;
    }

    /// <summary>Waits for the program (the group leader) to exit; false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Sends <paramref name="signal"/> to every process still in the group; no error if none is left.</summary>
    public void Signal(int signal) => SignalProcessGroup(Id, signal);

    /// <summary>The last <paramref name="maxLines"/> lines of the log, for error messages.</summary>
    public string ReadLogTail(int maxLines = 40) => ReadTail(LogFile, maxLines);

    public void Dispose() => _process.Dispose();

    /// <summary>kill(-pgid, signal).</summary>
    public static void SignalProcessGroup(int processGroupId, int signal)
    {
        if (processGroupId > 1)
        {
            _ = NativeMethods.kill(-processGroupId, signal);
        }
    }

    /// <summary>kill(pid, signal).</summary>
    public static void SignalProcess(int processId, int signal)
    {
        if (processId > 1)
        {
            _ = NativeMethods.kill(processId, signal);
        }
    }

    /// <summary>The last lines of a text file, or a note that it cannot be read.</summary>
    public static string ReadTail(string path, int maxLines)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var lines = new Queue<string>();
            while (reader.ReadLine() is { } line)
            {
                lines.Enqueue(line);
                if (lines.Count > maxLines)
                {
                    lines.Dequeue();
                }
            }
            return string.Join(Environment.NewLine, lines);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"({path} cannot be read: {e.Message})";
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int sig);
    }
}
