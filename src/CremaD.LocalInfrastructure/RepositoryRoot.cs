namespace CremaD.LocalInfrastructure;

/// <summary>Locates the repository checkout (the folder that holds CremaD.sln).</summary>
public static class RepositoryRoot
{
    /// <summary>Walks up from <paramref name="start"/> (default: the test assembly's folder) to the folder holding CremaD.sln.</summary>
    public static string Find(string? start = null)
    {
        var origin = start ?? AppContext.BaseDirectory;
        for (var directory = new DirectoryInfo(origin); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "CremaD.sln")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No folder holding CremaD.sln above {origin}.");
    }
}
