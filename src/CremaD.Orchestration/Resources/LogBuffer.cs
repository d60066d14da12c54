namespace CremaD.Orchestration.Resources;

/// <summary>
/// The most recent console lines of one resource, numbered from 1, so the dashboard can follow a log by asking for
/// the lines after the last one it has. Bounded: the oldest lines are dropped first. Thread-safe.
/// </summary>
public sealed class LogBuffer(int capacity = 10_000)
{
    private readonly Queue<LogLine> _lines = new();
    private readonly object _gate = new();
    private long _sequence;

    /// <summary>Optional echo of every line (the AppHost's own console, prefixed with the resource name).</summary>
    public Action<LogLine>? Echo { get; set; }

    public void Append(LogStream stream, string text)
    {
        LogLine line;
        lock (_gate)
        {
            line = new LogLine(++_sequence, DateTimeOffset.UtcNow, stream, text);
            _lines.Enqueue(line);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }
        }
        Echo?.Invoke(line);
    }

    /// <summary>Up to <paramref name="max"/> lines with a sequence above <paramref name="afterSequence"/>, oldest first.</summary>
    public IReadOnlyList<LogLine> After(long afterSequence, int max)
    {
        lock (_gate)
        {
            return _lines.Where(line => line.Sequence > afterSequence).Take(Math.Max(0, max)).ToList();
        }
    }

    /// <summary>The last <paramref name="count"/> lines as text, for error messages.</summary>
    public string Tail(int count)
    {
        lock (_gate)
        {
            return string.Join(Environment.NewLine, _lines.Skip(Math.Max(0, _lines.Count - count)).Select(line => line.Text));
        }
    }
}
