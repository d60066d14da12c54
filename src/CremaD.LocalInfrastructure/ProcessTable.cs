using System.Text;

namespace CremaD.LocalInfrastructure;

/// <summary>One running process, as /proc shows it.</summary>
/// <param name="Environment">Its environment (empty when it cannot be read).</param>
public sealed record ProcessEntry(int Id, string Name, char State, int ProcessGroupId, IReadOnlyList<string> CommandLine,
    IReadOnlyDictionary<string, string> Environment)
{
    public bool IsZombie => State is 'Z' or 'X';

    public override string ToString() => $"{Id} {Name} [{State}] pgid {ProcessGroupId}: {string.Join(' ', CommandLine)}";
}

/// <summary>Reads the process table from /proc (Linux), to find processes an instance left behind.</summary>
public static class ProcessTable
{
    /// <summary>The live (non-zombie) processes matching <paramref name="predicate"/>.</summary>
    public static IReadOnlyList<ProcessEntry> Find(Func<ProcessEntry, bool> predicate)
    {
        var found = new List<ProcessEntry>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var id) || id == System.Environment.ProcessId)
            {
                continue;
            }
            var entry = TryRead(id);
            if (entry is not null && !entry.IsZombie && predicate(entry))
            {
                found.Add(entry);
            }
        }
        return found;
    }

    /// <summary>The live processes whose environment has <paramref name="name"/>=<paramref name="value"/>.</summary>
    public static IReadOnlyList<ProcessEntry> WithEnvironmentVariable(string name, string value) =>
        Find(entry => entry.Environment.TryGetValue(name, out var actual) && actual == value);

    /// <summary>Sends SIGKILL to each process and waits (up to <paramref name="timeout"/>) until none is alive.</summary>
    /// <returns>Those still alive after the wait.</returns>
    public static async Task<IReadOnlyList<ProcessEntry>> KillAndWaitAsync(Func<ProcessEntry, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var alive = Find(predicate);
            if (alive.Count == 0 || DateTime.UtcNow > deadline)
            {
                return alive;
            }
            foreach (var process in alive)
            {
                ProcessGroup.SignalProcess(process.Id, ProcessGroup.SigKill);
            }
            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    private static ProcessEntry? TryRead(int id)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{id}/stat");
            // "pid (comm) S ppid pgrp ..."; comm may hold spaces and parentheses, so parse around the last ')'.
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')');
            var name = stat[(open + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            var state = fields[0][0];
            var processGroupId = int.Parse(fields[2]);
            var commandLine = SplitNul(ReadOrEmpty($"/proc/{id}/cmdline"));
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var variable in SplitNul(ReadOrEmpty($"/proc/{id}/environ")))
            {
                var equals = variable.IndexOf('=');
                if (equals > 0)
                {
                    environment[variable[..equals]] = variable[(equals + 1)..];
                }
            }
            return new ProcessEntry(id, name, state, processGroupId, commandLine, environment);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            return null; // exited meanwhile, or not ours to read
        }
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return Encoding.UTF8.GetString(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static List<string> SplitNul(string text) =>
        text.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
}
