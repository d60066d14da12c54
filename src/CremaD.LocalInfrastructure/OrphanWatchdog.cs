namespace CremaD.LocalInfrastructure;

/// <summary>
/// A small shell process that outlives a hard-killed test process: it polls once a second whether the test
/// process is still alive and whether the instance's marker (its private directory) still exists. When the
/// test process has died while the marker is still there, it runs the cleanup script (kill the server's
/// process group, stop its epmd, remove the directory). Normal disposal removes the marker first and then
/// kills the watchdog, so it never runs the script then.
/// </summary>
public static class OrphanWatchdog
{
    public static ProcessGroup Start(string marker, string cleanupScript, string logFile)
    {
        const string script = """
            host=$1; marker=$2; cleanup=$3
            while kill -0 "$host" 2>/dev/null && [ -e "$marker" ]; do sleep 1; done
            if [ -e "$marker" ]; then sh -c "$cleanup"; fi
            """;
        return ProcessGroup.Start("/bin/sh",
            ["-c", script, "cremad-watchdog", Environment.ProcessId.ToString(), marker, cleanupScript],
            new Dictionary<string, string?>(), "/", logFile);
    }

    /// <summary>Quotes a value for a POSIX shell.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''") + "'";
}
