using System.Text;

namespace CremaD.Datasets;

/// <summary>
/// Replaces files so that a reader — a dashboard, or a run resumed after a kill — sees either the old or the new
/// content, never a torn one: the content goes to a temporary file in the same directory (flushed to disk) and is
/// renamed over the target, which is atomic within a file system. The one implementation every layer uses.
/// </summary>
public static class AtomicFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Writes whatever <paramref name="write"/> puts into the stream; creates the directory if needed.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var temporary = TemporaryPathFor(fullPath);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Utf8NoBom.GetBytes(text));

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    /// <summary>A name beside <paramref name="path"/> no other process or thread writes to.</summary>
    public static string TemporaryPathFor(string path) =>
        $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.{Guid.NewGuid():N}.tmp";

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
