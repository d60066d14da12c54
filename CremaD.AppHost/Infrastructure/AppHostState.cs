namespace CremaD.AppHost.Infrastructure;

/// <summary>
/// The AppHost's working folder for this run: the private broker's and Azurite's data (kept across their restarts, so
/// a restarted broker still has its durable queues and a restarted Azurite its blobs), the embedded mode's blob folder
/// and the services' work folders. Removed when the AppHost stops; folders left by an AppHost that was killed are
/// removed by the next one.
/// </summary>
public sealed class AppHostState : IDisposable
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "cremad-apphost");

    private AppHostState(string directory) => Directory = directory;

    public string Directory { get; }

    public string PathOf(params string[] parts) => Path.Combine([Directory, .. parts]);

    public static AppHostState Create()
    {
        System.IO.Directory.CreateDirectory(Root);
        RemoveAbandoned();
        var directory = Path.Combine(Root, $"{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        System.IO.Directory.CreateDirectory(directory);
        return new AppHostState(directory);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Something still writes there (a process DCP has not finished stopping); the next AppHost removes it.
        }
    }

    /// <summary>Folders named after a process id that no longer exists belong to an AppHost that did not stop normally.</summary>
    private static void RemoveAbandoned()
    {
        foreach (var folder in System.IO.Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(folder);
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(name[..dash], out var pid) && !System.IO.Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    System.IO.Directory.Delete(folder, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Left for a later AppHost.
                }
            }
        }
    }
}
