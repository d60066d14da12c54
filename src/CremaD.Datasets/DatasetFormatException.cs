namespace CremaD.Datasets;

/// <summary>
/// A dataset description (labels.csv, VideoDemographics.csv, a data root) that cannot be used.
/// The message is "&lt;file&gt;:&lt;line&gt;: &lt;reason&gt;" (or "&lt;file&gt;: &lt;reason&gt;" when no line applies)
/// so a user can go straight to the offending line.
/// </summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException(string filePath, int? lineNumber, string reason, Exception? innerException = null)
        : base(Format(filePath, lineNumber, reason), innerException)
    {
        FilePath = filePath;
        LineNumber = lineNumber;
        Reason = reason;
    }

    /// <summary>The file (or directory) that is malformed.</summary>
    public string FilePath { get; }

    /// <summary>1-based line number of the offending record, when the problem is on one line.</summary>
    public int? LineNumber { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    private static string Format(string filePath, int? lineNumber, string reason) =>
        lineNumber is { } line ? $"{filePath}:{line}: {reason}" : $"{filePath}: {reason}";
}
