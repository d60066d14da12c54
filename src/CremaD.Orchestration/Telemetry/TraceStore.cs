using CremaD.ServiceDefaults;

namespace CremaD.Orchestration.Telemetry;

/// <summary>
/// The spans the dashboard shows, grouped by trace, in memory. Thread-safe: the OTLP receiver adds while the
/// dashboard reads. Bounded by a number of spans: when an <see cref="Add"/> takes the store over the bound, whole
/// traces are dropped, oldest start time first, so the newest traces survive intact. A single trace larger than
/// the bound on its own loses its earliest spans instead, so the bound always holds.
/// A span received twice (an exporter retrying after a timeout) replaces its first copy instead of counting twice.
/// </summary>
public sealed partial class TraceStore
{
    /// <summary>The bound used when none is given: about 100 MB of typical spans.</summary>
    public const int DefaultMaxSpans = 100_000;

    private readonly Lock gate = new();
    private readonly Dictionary<string, TraceEntry> traces = new(StringComparer.Ordinal);

    // Traces by (start, trace id); an entry is taken out before its start can change and put back afterwards.
    private readonly SortedSet<TraceEntry> tracesByStart = new(TraceEntry.StartOrder);
    private int spanCount;
    private long version;

    /// <param name="maxSpans">The most spans kept; at least 1.</param>
    public TraceStore(int maxSpans = DefaultMaxSpans)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSpans, 1);
        MaxSpans = maxSpans;
    }

    /// <summary>The most spans kept.</summary>
    public int MaxSpans { get; }

    /// <summary>Changes whenever an <see cref="Add"/> stores spans; the dashboard polls it to know when to refresh.</summary>
    public long Version => Interlocked.Read(ref version);

    /// <summary>The number of spans held.</summary>
    public int SpanCount
    {
        get
        {
            lock (gate)
            {
                return spanCount;
            }
        }
    }

    /// <summary>The number of traces held.</summary>
    public int TraceCount
    {
        get
        {
            lock (gate)
            {
                return traces.Count;
            }
        }
    }

    /// <summary>Stores spans (of any traces, in any order), then drops the oldest traces while over the bound.</summary>
    public void Add(IEnumerable<SpanRecord> spans)
    {
        ArgumentNullException.ThrowIfNull(spans);
        // Enumerate the caller's sequence before taking the lock: it may be lazy and slow.
        var batch = spans.ToList();
        if (batch.Count == 0)
        {
            return;
        }
        lock (gate)
        {
            var touched = new HashSet<TraceEntry>();
            foreach (var span in batch)
            {
                var traceId = span.TraceId.ToLowerInvariant();
                if (!traces.TryGetValue(traceId, out var entry))
                {
                    entry = new TraceEntry(traceId);
                    traces.Add(traceId, entry);
                }
                else if (!touched.Contains(entry))
                {
                    tracesByStart.Remove(entry);
                }
                touched.Add(entry);
                spanCount += entry.Put(span);
            }
            foreach (var entry in touched)
            {
                entry.Changed();
                tracesByStart.Add(entry);
            }
            EvictOverBound();
            Interlocked.Increment(ref version);
        }
    }

    /// <summary>
    /// Summaries of the newest traces (by start time, newest first), optionally only those with a span from
    /// <paramref name="service"/> or with <paramref name="runId"/> as their <c>cremad.run_id</c>.
    /// </summary>
    public IReadOnlyList<TraceSummary> ListTraces(int max = 200, string? service = null, string? runId = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var result = new List<TraceSummary>(Math.Min(max, 256));
        lock (gate)
        {
            foreach (var entry in tracesByStart.Reverse())
            {
                if (result.Count >= max)
                {
                    break;
                }
                var summary = entry.Summary;
                if (service is not null && !summary.Services.Contains(service, StringComparer.Ordinal))
                {
                    continue;
                }
                if (runId is not null && !string.Equals(summary.RunId, runId, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                result.Add(summary);
            }
        }
        return result;
    }

    /// <summary>The spans of one trace ordered by start time (parents before children that start with them), or null if unknown.</summary>
    public IReadOnlyList<SpanRecord>? GetTrace(string traceId)
    {
        ArgumentNullException.ThrowIfNull(traceId);
        lock (gate)
        {
            return traces.TryGetValue(traceId.ToLowerInvariant(), out var entry) ? entry.OrderedSpans : null;
        }
    }

    private void EvictOverBound()
    {
        while (spanCount > MaxSpans)
        {
            var oldest = tracesByStart.Min!;
            if (tracesByStart.Count > 1)
            {
                tracesByStart.Remove(oldest);
                traces.Remove(oldest.TraceId);
                spanCount -= oldest.SpanCount;
                continue;
            }
            // One trace alone exceeds the bound: keep its latest spans.
            tracesByStart.Remove(oldest);
            spanCount -= oldest.RemoveEarliest(spanCount - MaxSpans);
            oldest.Changed();
            tracesByStart.Add(oldest);
        }
    }

    /// <summary>One trace's spans, with its ordered view and summary computed when first asked for after a change.</summary>
    private sealed class TraceEntry(string traceId)
    {
        public static readonly IComparer<TraceEntry> StartOrder = Comparer<TraceEntry>.Create((a, b) =>
        {
            var byStart = a.Start.CompareTo(b.Start);
            return byStart != 0 ? byStart : string.CompareOrdinal(a.TraceId, b.TraceId);
        });

        private static readonly Comparison<SpanRecord> SpanOrder = (a, b) =>
        {
            var byStart = a.Start.CompareTo(b.Start);
            if (byStart != 0)
            {
                return byStart;
            }
            // Same start: the longer span first, as a parent encloses the children it starts with.
            var byEnd = b.End.CompareTo(a.End);
            return byEnd != 0 ? byEnd : string.CompareOrdinal(a.SpanId, b.SpanId);
        };

        private readonly Dictionary<string, SpanRecord> spansById = new(StringComparer.Ordinal);
        private IReadOnlyList<SpanRecord>? orderedSpans;
        private TraceSummary? summary;

        public string TraceId { get; } = traceId;

        /// <summary>The earliest span's start; the sort key in the store, updated only by <see cref="Changed"/>.</summary>
        public DateTimeOffset Start { get; private set; }

        public int SpanCount => spansById.Count;

        /// <summary>Adds or replaces a span; returns how many spans were added (0 for a replacement).</summary>
        public int Put(SpanRecord span)
        {
            var added = spansById.TryAdd(span.SpanId, span);
            if (!added)
            {
                spansById[span.SpanId] = span;
            }
            return added ? 1 : 0;
        }

        /// <summary>Removes the <paramref name="count"/> earliest spans; returns how many were removed.</summary>
        public int RemoveEarliest(int count)
        {
            var earliest = OrderedSpans.Take(count).ToList();
            foreach (var span in earliest)
            {
                spansById.Remove(span.SpanId);
            }
            return earliest.Count;
        }

        /// <summary>Recomputes the start and forgets the cached views after spans were added or removed.</summary>
        public void Changed()
        {
            orderedSpans = null;
            summary = null;
            Start = spansById.Count == 0 ? DateTimeOffset.MinValue : spansById.Values.Min(span => span.Start);
        }

        public IReadOnlyList<SpanRecord> OrderedSpans
        {
            get
            {
                if (orderedSpans is null)
                {
                    var spans = spansById.Values.ToArray();
                    Array.Sort(spans, SpanOrder);
                    // A new read-only list per change: lists already handed out stay unchanged snapshots.
                    orderedSpans = Array.AsReadOnly(spans);
                }
                return orderedSpans;
            }
        }

        public TraceSummary Summary => summary ??= Summarise();

        private TraceSummary Summarise()
        {
            var spans = OrderedSpans;
            var root = spans.FirstOrDefault(span => span.ParentSpanId is null)
                ?? spans.FirstOrDefault(span => !spansById.ContainsKey(span.ParentSpanId!))
                ?? spans[0];
            var end = spans.Max(span => span.End);
            var runId = spans
                .Select(span => span.Attributes.TryGetValue(CremaDTelemetry.RunIdTag, out var value) ? value : null)
                .FirstOrDefault(value => !string.IsNullOrEmpty(value));
            return new TraceSummary(
                TraceId,
                root.Name,
                spans.Select(span => span.ServiceName).Distinct(StringComparer.Ordinal).ToArray().AsReadOnly(),
                Start,
                end - Start,
                spans.Count,
                spans.Count(span => span.StatusCode == "error"),
                runId);
        }
    }
}
