namespace CremaD.Audio;

/// <summary>
/// A clip that cannot be turned into features: not a WAV file, an unsupported encoding, no samples,
/// non-finite samples, too short for one analysis frame, ... The message is "&lt;source&gt;: &lt;reason&gt;" so a
/// batch report can list the clip and why it was skipped without further formatting.
/// </summary>
public sealed class AudioFormatException : Exception
{
    public AudioFormatException(string sourceName, string reason, Exception? innerException = null)
        : base($"{sourceName}: {reason}", innerException)
    {
        SourceName = sourceName;
        Reason = reason;
    }

    /// <summary>The file path or caller-supplied name of the rejected clip.</summary>
    public string SourceName { get; }

    /// <summary>Why the clip was rejected, without the source name.</summary>
    public string Reason { get; }
}
