namespace CremaD.Storage;

/// <summary>Local-file helpers shared by the stores.</summary>
internal static class LocalFiles
{
    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> so that the file appears complete or not
    /// at all: into a temporary file beside it, flushed, then renamed over it.
    /// </summary>
    public static async Task WriteAtomicallyAsync(string path, Stream content, CancellationToken cancellationToken)
    {
        await WriteAtomicallyAsync(path, async (file, ct) => await content.CopyToAsync(file, ct).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As above, with the content written by <paramref name="write"/>.</summary>
    public static async Task WriteAtomicallyAsync(string path, Func<FileStream, CancellationToken, Task> write,
        CancellationToken cancellationToken)
    {
        var fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var temporary = $"{fullPath}.{Guid.NewGuid():N}.partial";
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None,
                             bufferSize: 81920, FileOptions.Asynchronous))
            {
                await write(file, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
