using System.Text;

namespace CremaD.Datasets;

/// <summary>
/// Writes files so that a reader (or a crashed run's successor) sees either the old or the new content,
/// never a torn one: write a temporary file beside the target, then rename it over the target.
/// </summary>
public static class AtomicFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public static void WriteAllText(string path, string text) => WriteAllBytes(path, Utf8NoBom.GetBytes(text));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var temporary = TemporaryPathFor(path);
        try
        {
            using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, bytes.Length))
            {
                System.IO.RandomAccess.Write(handle, bytes, 0);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>A name beside <paramref name="path"/> no other process or thread writes to.</summary>
    public static string TemporaryPathFor(string path) =>
        $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
