using CremaD.Orchestration.Telemetry;

namespace CremaD.Orchestration.Dashboard;

/// <summary>A row of the trace list, durations in milliseconds for the browser.</summary>
internal sealed record TraceListItem(
    string TraceId, string RootName, IReadOnlyList<string> Services, DateTimeOffset Start, double DurationMs,
    int SpanCount, int ErrorCount, string? RunId)
{
    public static TraceListItem From(TraceSummary summary) => new(
        summary.TraceId, summary.RootName, summary.Services, summary.Start, summary.Duration.TotalMilliseconds,
        summary.SpanCount, summary.ErrorCount, summary.RunId);
}

/// <summary>An event on a span, placed on the trace's time axis.</summary>
internal sealed record WaterfallEvent(string Name, DateTimeOffset Time, double OffsetMs, IReadOnlyDictionary<string, string> Attributes);

/// <summary>A bar of the waterfall: the span, its offset from the trace's start and its depth in the tree.</summary>
internal sealed record WaterfallSpan(
    string SpanId, string? ParentSpanId, string Name, string Service, string? ServiceInstanceId, string Kind, string Scope,
    DateTimeOffset Start, DateTimeOffset End, double OffsetMs, double DurationMs, int Depth,
    string StatusCode, string? StatusMessage, IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<WaterfallEvent> Events);

/// <summary>A trace laid out for the waterfall: spans in tree order (each parent before its children, siblings by start).</summary>
internal sealed record TraceWaterfall(string TraceId, DateTimeOffset Start, double DurationMs, IReadOnlyList<string> Services, IReadOnlyList<WaterfallSpan> Spans)
{
    public static TraceWaterfall From(string traceId, IReadOnlyList<SpanRecord> spans)
    {
        ArgumentOutOfRangeException.ThrowIfZero(spans.Count);
        var start = spans.Min(s => s.Start);
        var end = spans.Max(s => s.End);
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        // A span whose parent never arrived (another process's span still buffered, or dropped) is shown as a root
        // rather than hidden.
        var children = spans.ToLookup(s => s.ParentSpanId is { } parent && ids.Contains(parent) ? parent : "", StringComparer.Ordinal);
        var ordered = new List<WaterfallSpan>(spans.Count);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<(SpanRecord Span, int Depth)>();
        PushChildren("", 0);
        while (pending.Count > 0)
        {
            var (span, depth) = pending.Pop();
            // A malformed trace could name a span as its own ancestor; each span is shown once.
            if (!visited.Add(span.SpanId)) continue;
            ordered.Add(Bar(span, depth));
            PushChildren(span.SpanId, depth + 1);
        }
        // Spans caught in a parent cycle are unreachable from any root: append them flat.
        foreach (var span in spans.Where(s => !visited.Contains(s.SpanId)).OrderBy(s => s.Start))
        {
            if (visited.Add(span.SpanId)) ordered.Add(Bar(span, 0));
        }
        var services = spans.OrderBy(s => s.Start).Select(s => s.ServiceName).Distinct(StringComparer.Ordinal).ToList();
        return new TraceWaterfall(traceId, start, (end - start).TotalMilliseconds, services, ordered);

        WaterfallSpan Bar(SpanRecord span, int depth) => new(
            span.SpanId, span.ParentSpanId, span.Name, span.ServiceName, span.ServiceInstanceId, span.Kind, span.Scope,
            span.Start, span.End, (span.Start - start).TotalMilliseconds, span.Duration.TotalMilliseconds, depth,
            span.StatusCode, span.StatusMessage, span.Attributes,
            [.. span.Events.Select(e => new WaterfallEvent(e.Name, e.Time, (e.Time - start).TotalMilliseconds, e.Attributes))]);

        void PushChildren(string parent, int depth)
        {
            // Pushed latest first so the earliest child is popped (and listed) first.
            foreach (var child in children[parent].OrderByDescending(s => s.Start).ThenByDescending(s => s.Name, StringComparer.Ordinal))
            {
                pending.Push((child, depth));
            }
        }
    }
}
