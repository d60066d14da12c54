namespace CremaD.Datasets;

/// <summary>
/// What <see cref="DatasetReader"/> asks of the place a dataset lives: which files exist, which .wav files a folder
/// holds, the text of a CSV. Never audio. <see cref="LocalDatasetFiles"/> answers from a folder on disk;
/// <see cref="ListedDatasetFiles"/> from a listing (the blob store's), so the services read a dataset in storage with
/// the reader the CLI uses, without writing a file.
/// </summary>
public interface IDatasetFiles
{
    bool FileExists(string path);

    bool DirectoryExists(string path);

    /// <summary>Full paths of the <c>*.wav</c> files directly in <paramref name="folder"/> (extension in any case).</summary>
    IEnumerable<string> EnumerateWavFiles(string folder);

    /// <exception cref="DatasetFormatException">The file cannot be read; the message names it and the reason.</exception>
    string ReadText(string path);
}

/// <summary>A dataset in a folder on disk.</summary>
public sealed class LocalDatasetFiles : IDatasetFiles
{
    public static LocalDatasetFiles Instance { get; } = new();

    private LocalDatasetFiles()
    {
    }

    public bool FileExists(string path) => File.Exists(path);

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public IEnumerable<string> EnumerateWavFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*.wav", new EnumerationOptions { MatchCasing = MatchCasing.CaseInsensitive });

    /// <summary>The most bytes a CSV of a dataset may hold (CREMA-D's largest, summaryTable.csv, is under 1 MB).</summary>
    public const long MaxTextBytes = 64L * 1024 * 1024;

    public string ReadText(string path)
    {
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxTextBytes) throw new DatasetFormatException(path, null, $"too large: {length:N0} bytes, at most {MaxTextBytes:N0}");
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetFormatException(path, null, $"cannot read: {e.Message}", e);
        }
    }
}

/// <summary>
/// A dataset known by a listing: the files' paths relative to <see cref="Root"/> (a path that need not exist) and the
/// text of the few files the reader reads (labels.csv, VideoDemographics.csv).
/// </summary>
public sealed class ListedDatasetFiles : IDatasetFiles
{
    private readonly HashSet<string> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _folders = new(StringComparer.Ordinal) { "" };
    private readonly IReadOnlyDictionary<string, string> _texts;

    /// <param name="root">The dataset root the reader is given: an absolute path, used only to name files.</param>
    /// <param name="relativePaths">Every file, '/'-separated, relative to <paramref name="root"/>.</param>
    /// <param name="texts">The content of the files the reader may read, by relative path.</param>
    public ListedDatasetFiles(string root, IEnumerable<string> relativePaths, IReadOnlyDictionary<string, string> texts)
    {
        Root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        _texts = texts;
        foreach (var relative in relativePaths)
        {
            _files.Add(relative);
            for (var slash = relative.LastIndexOf('/'); slash > 0; slash = relative.LastIndexOf('/', slash - 1))
            {
                if (!_folders.Add(relative[..slash])) break;
            }
        }
    }

    public string Root { get; }

    public bool FileExists(string path) => Relative(path) is { } relative && _files.Contains(relative);

    public bool DirectoryExists(string path) => Relative(path) is { } relative && _folders.Contains(relative);

    public IEnumerable<string> EnumerateWavFiles(string folder)
    {
        var relativeFolder = Relative(folder);
        if (relativeFolder is null) return [];
        var prefix = relativeFolder.Length == 0 ? "" : relativeFolder + "/";
        return _files
            .Where(f => f.StartsWith(prefix, StringComparison.Ordinal) && f.IndexOf('/', prefix.Length) < 0
                        && f.EndsWith(".wav", StringComparison.OrdinalIgnoreCase))
            .Select(f => Path.Combine(Root, f.Replace('/', Path.DirectorySeparatorChar)));
    }

    public string ReadText(string path) =>
        Relative(path) is { } relative && _texts.TryGetValue(relative, out var text)
            ? text
            : throw new DatasetFormatException(path, null, "cannot read: not among the files read from the listing");

    /// <summary>'/'-separated path relative to the root ("" for the root), or null outside it.</summary>
    private string? Relative(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (full == Root) return "";
        var relative = Path.GetRelativePath(Root, full).Replace('\\', '/');
        return relative == ".." || relative.StartsWith("../", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? null : relative;
    }
}
