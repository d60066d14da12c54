namespace CremaD.Orchestration.Telemetry;

/// <summary>An event recorded on a span (an exception, a retry), with its attributes rendered as strings.</summary>
public sealed record SpanEventRecord(string Name, DateTimeOffset Time, IReadOnlyDictionary<string, string> Attributes);

/// <summary>
/// One finished span received over OTLP, flattened for display: ids as lower-case hex, times as UTC, attribute values
/// rendered as strings (arrays as JSON arrays).
/// </summary>
/// <param name="ParentSpanId">Null for a root span.</param>
/// <param name="ServiceName">The resource's <c>service.name</c> (the AppHost sets it to the resource name).</param>
/// <param name="ServiceInstanceId">The resource's <c>service.instance.id</c>, when set.</param>
/// <param name="Kind">internal, server, client, producer, consumer (or unspecified).</param>
/// <param name="Scope">The instrumentation scope (ActivitySource) name.</param>
/// <param name="StatusCode">unset, ok or error.</param>
public sealed record SpanRecord(
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    string ServiceName,
    string? ServiceInstanceId,
    string Kind,
    string Scope,
    DateTimeOffset Start,
    DateTimeOffset End,
    string StatusCode,
    string? StatusMessage,
    IReadOnlyDictionary<string, string> Attributes,
    IReadOnlyList<SpanEventRecord> Events)
{
    public TimeSpan Duration => End - Start;
}

/// <summary>A trace in the trace list.</summary>
/// <param name="RootName">The root span's name (or the earliest span's, while the root has not arrived).</param>
/// <param name="Services">Service names that contributed spans, in order of first appearance.</param>
/// <param name="RunId">The <c>cremad.run_id</c> attribute of any of its spans, when present.</param>
public sealed record TraceSummary(
    string TraceId,
    string RootName,
    IReadOnlyList<string> Services,
    DateTimeOffset Start,
    TimeSpan Duration,
    int SpanCount,
    int ErrorCount,
    string? RunId);
