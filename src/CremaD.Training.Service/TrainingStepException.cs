namespace CremaD.Training.Service;

/// <summary>
/// A step of a training attempt failed on storage or the broker. The message names the step (with the blob key or
/// prefix it was about) and the cause, for the log; the attempt is retried after a back-off (<see cref="TrainingFailureLedger"/>),
/// never failing the run.
/// </summary>
public sealed class TrainingStepException(string step, Exception innerException)
    : Exception($"{step} failed: {Describe(innerException)}", innerException)
{
    /// <summary>What was being done, e.g. "uploading 'runs/…/model/g000001/last_checkpoint'".</summary>
    public string Step { get; } = step;

    private static string Describe(Exception e)
    {
        // Azure's RequestFailedException puts status, headers and content on further lines: keep the first, add the status.
        var end = e.Message.AsSpan().IndexOfAny('\r', '\n');
        var text = (end < 0 ? e.Message : e.Message[..end]).Trim();
        var http = e as Azure.RequestFailedException ?? e.InnerException as Azure.RequestFailedException;
        return http is null ? text : $"{text} (HTTP {http.Status}{(string.IsNullOrEmpty(http.ErrorCode) ? "" : ", " + http.ErrorCode)})";
    }
}
