namespace CremaD.Testing;

/// <summary>A temporary folder of a test's own (under the system's temporary folder), deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cremad-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>The subfolder <paramref name="name"/>, created.</summary>
    public string Sub(string name)
    {
        var path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Deleted by the test itself.
        }
        catch (IOException)
        {
            // A process that has not let go of a file yet; the temporary folder is cleaned by the system.
        }
    }
}
