using System.Runtime.InteropServices;

namespace CremaD.AppHost.Tests;

/// <summary>
/// The processes that belong to one AppHost: its descendants, DCP (which runs detached with <c>--monitor &lt;pid&gt;</c>
/// naming the process it serves) and DCP's descendants — the services, the broker, Azurite, the dashboard.
/// </summary>
public static class ProcessTree
{
    public sealed record Entry(int Pid, int ParentPid, string State, string CommandLine);

    public static IReadOnlyList<Entry> All()
    {
        var entries = new List<Entry>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                // pid (comm) state ppid …: comm may hold spaces and parentheses, so parse from the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var commandLine = File.ReadAllText(Path.Combine(folder, "cmdline")).Replace('\0', ' ').Trim();
                entries.Add(new Entry(pid, int.Parse(fields[1]), fields[0], commandLine));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                // The process ended while we looked.
            }
        }
        return entries;
    }

    /// <summary>Live (not zombie) processes of the AppHost <paramref name="rootPid"/>, the root included.</summary>
    public static IReadOnlyList<Entry> Of(int rootPid)
    {
        var all = All().Where(e => e.State != "Z").ToList();
        var members = new HashSet<int> { rootPid };
        bool grew;
        do
        {
            grew = false;
            foreach (var entry in all)
            {
                if (members.Contains(entry.Pid)) continue;
                if (members.Contains(entry.ParentPid) || members.Any(m => entry.CommandLine.Contains($"--monitor {m} ", StringComparison.Ordinal)
                                                                          || entry.CommandLine.EndsWith($"--monitor {m}", StringComparison.Ordinal)))
                {
                    grew = members.Add(entry.Pid) || grew;
                }
            }
        }
        while (grew);
        return all.Where(e => members.Contains(e.Pid)).ToList();
    }

    /// <summary>Which of <paramref name="processes"/> are still alive (a zombie counts as gone).</summary>
    public static IReadOnlyList<Entry> StillAlive(IEnumerable<Entry> processes)
    {
        var alive = All().Where(e => e.State != "Z").ToDictionary(e => e.Pid);
        return processes.Where(p => alive.TryGetValue(p.Pid, out var now) && now.CommandLine == p.CommandLine).ToList();
    }

    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
