using CremaD.Orchestration.Telemetry;

namespace CremaD.AppHost.Tests.Telemetry;

public sealed class TraceStoreTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static string TraceId(int n) => n.ToString("x32");

    private static SpanRecord Span(
        int trace, string spanId, string? parent, string name, double startSeconds, double seconds = 1,
        string service = "trainer", string status = "unset", string? runId = null)
    {
        var attributes = new Dictionary<string, string> { ["n"] = spanId };
        if (runId is not null)
        {
            attributes["cremad.run_id"] = runId;
        }
        var start = T0.AddSeconds(startSeconds);
        return new SpanRecord(TraceId(trace), spanId, parent, name, service, null, "internal", "CremaD.Training",
            start, start.AddSeconds(seconds), status, null, attributes, []);
    }

    [Fact]
    public void A_trace_comes_back_ordered_by_start_with_parents_before_children_that_start_with_them()
    {
        var store = new TraceStore();
        // Children end, and are exported, before their parent.
        store.Add([Span(1, "c2", "p", "second child", 5), Span(1, "c1", "p", "first child", 0, seconds: 2)]);
        store.Add([Span(1, "p", null, "parent", 0, seconds: 10)]);

        var spans = store.GetTrace(TraceId(1));

        Assert.NotNull(spans);
        Assert.Equal(["parent", "first child", "second child"], spans.Select(span => span.Name));
        Assert.Equal(["parent", "first child", "second child"], store.GetTrace(TraceId(1).ToUpperInvariant())!.Select(span => span.Name));
        Assert.Null(store.GetTrace(TraceId(2)));
    }

    [Fact]
    public void Traces_are_listed_newest_first_up_to_the_maximum()
    {
        var store = new TraceStore();
        foreach (var trace in new[] { 3, 1, 5, 2, 4 })
        {
            store.Add([Span(trace, $"s{trace}", null, $"trace {trace}", startSeconds: trace * 10)]);
        }

        Assert.Equal(["trace 5", "trace 4", "trace 3", "trace 2", "trace 1"], store.ListTraces().Select(t => t.RootName));
        Assert.Equal([TraceId(5), TraceId(4)], store.ListTraces(max: 2).Select(t => t.TraceId));
        Assert.Empty(store.ListTraces(max: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.ListTraces(max: -1));
    }

    [Fact]
    public void A_summary_names_the_root_services_errors_run_and_extent_of_its_trace()
    {
        var store = new TraceStore();
        store.Add([
            Span(1, "train", "root", "train epoch", 2, seconds: 3, service: "trainer", status: "error", runId: "RUN-42"),
            Span(1, "extract", "root", "extract shard", 1, seconds: 1, service: "features"),
        ]);

        // Before the root arrives: the earliest span whose parent is missing.
        var early = Assert.Single(store.ListTraces());
        Assert.Equal("extract shard", early.RootName);

        store.Add([
            Span(1, "root", null, "run", 0, seconds: 10, service: "runs-api"),
            Span(1, "eval", "root", "evaluate", 6, seconds: 1, service: "evaluator", status: "error"),
        ]);

        var summary = Assert.Single(store.ListTraces());
        Assert.Equal(TraceId(1), summary.TraceId);
        Assert.Equal("run", summary.RootName);
        Assert.Equal(["runs-api", "features", "trainer", "evaluator"], summary.Services);
        Assert.Equal(T0, summary.Start);
        Assert.Equal(TimeSpan.FromSeconds(10), summary.Duration);
        Assert.Equal(4, summary.SpanCount);
        Assert.Equal(2, summary.ErrorCount);
        Assert.Equal("RUN-42", summary.RunId);
    }

    [Fact]
    public void Traces_can_be_filtered_by_service_and_run()
    {
        var store = new TraceStore();
        store.Add([
            Span(1, "a", null, "run A", 0, service: "runs-api", runId: "run-a"),
            Span(1, "a2", "a", "train A", 1, service: "trainer", runId: "run-a"),
            Span(2, "b", null, "run B", 10, service: "runs-api", runId: "run-b"),
            Span(3, "c", null, "health", 20, service: "features"),
        ]);

        Assert.Equal(["run A"], store.ListTraces(service: "trainer").Select(t => t.RootName));
        Assert.Equal(["run B", "run A"], store.ListTraces(service: "runs-api").Select(t => t.RootName));
        Assert.Equal(["run B"], store.ListTraces(runId: "run-b").Select(t => t.RootName));
        Assert.Equal(["run B"], store.ListTraces(runId: "RUN-B").Select(t => t.RootName));
        Assert.Equal(["run A"], store.ListTraces(service: "trainer", runId: "run-a").Select(t => t.RootName));
        Assert.Empty(store.ListTraces(service: "trainer", runId: "run-b"));
        Assert.Empty(store.ListTraces(service: "nobody"));
        Assert.Null(store.ListTraces(service: "features").Single().RunId);
    }

    [Fact]
    public void Over_the_bound_whole_oldest_traces_are_dropped_and_the_newest_kept()
    {
        var store = new TraceStore(maxSpans: 10);
        for (var trace = 1; trace <= 5; trace++)
        {
            store.Add([
                Span(trace, "a", null, $"trace {trace}", trace * 10),
                Span(trace, "b", "a", "child", trace * 10 + 1),
                Span(trace, "c", "a", "child", trace * 10 + 2),
            ]);
        }

        Assert.Equal(9, store.SpanCount);
        Assert.Equal(3, store.TraceCount);
        Assert.Equal(["trace 5", "trace 4", "trace 3"], store.ListTraces().Select(t => t.RootName));
        Assert.Null(store.GetTrace(TraceId(1)));
        Assert.Null(store.GetTrace(TraceId(2)));
        Assert.Equal(3, store.GetTrace(TraceId(3))!.Count);

        // A late trace that started before everything kept is itself the oldest: it goes, the newest stay.
        store.Add([Span(9, "x", null, "late old trace", 0), Span(9, "y", "x", "child", 1)]);
        Assert.Equal(["trace 5", "trace 4", "trace 3"], store.ListTraces().Select(t => t.RootName));

        // Spans arriving for a kept trace can push out an older one.
        store.Add([Span(5, "d", "a", "child", 53), Span(5, "e", "a", "child", 54)]);
        Assert.Equal(["trace 5", "trace 4"], store.ListTraces().Select(t => t.RootName));
        Assert.Equal(8, store.SpanCount);
    }

    [Fact]
    public void A_single_trace_larger_than_the_bound_keeps_its_latest_spans()
    {
        var store = new TraceStore(maxSpans: 5);
        store.Add(Enumerable.Range(0, 8).Select(i => Span(1, $"s{i}", i == 0 ? null : "s0", $"span {i}", i)));

        Assert.Equal(5, store.SpanCount);
        Assert.Equal(["span 3", "span 4", "span 5", "span 6", "span 7"], store.GetTrace(TraceId(1))!.Select(s => s.Name));
        Assert.Equal(T0.AddSeconds(3), store.ListTraces().Single().Start);
    }

    [Fact]
    public void A_span_received_twice_is_stored_once_with_its_latest_copy()
    {
        var store = new TraceStore();
        store.Add([Span(1, "s", null, "first copy", 0)]);
        store.Add([Span(1, "s", null, "second copy", 0)]);

        Assert.Equal(1, store.SpanCount);
        Assert.Equal("second copy", Assert.Single(store.GetTrace(TraceId(1))!).Name);
    }

    [Fact]
    public void The_version_changes_on_every_add_that_stores_spans()
    {
        var store = new TraceStore();
        var initial = store.Version;

        store.Add([Span(1, "a", null, "a", 0)]);
        var afterFirst = store.Version;
        store.Add([Span(1, "a", null, "a again", 0)]);
        var afterSecond = store.Version;
        store.Add([]);

        Assert.True(afterFirst > initial);
        Assert.True(afterSecond > afterFirst);
        Assert.Equal(afterSecond, store.Version);
    }

    [Fact]
    public void Handed_out_lists_are_snapshots()
    {
        var store = new TraceStore();
        store.Add([Span(1, "a", null, "root", 0)]);
        var before = store.GetTrace(TraceId(1))!;
        var listBefore = store.ListTraces();

        store.Add([Span(1, "b", "a", "child", 1)]);

        Assert.Single(before);
        Assert.Equal(1, listBefore.Single().SpanCount);
        Assert.Equal(2, store.GetTrace(TraceId(1))!.Count);
    }

    [Fact]
    public async Task Concurrent_writers_and_readers_lose_nothing()
    {
        const int Writers = 8;
        const int BatchesPerWriter = 50;
        const int SpansPerBatch = 10;
        var store = new TraceStore();
        using var done = new CancellationTokenSource();
        var readerStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // The reader keeps listing and fetching while the writers add, so reads overlap writes.
        var reader = Task.Run(() =>
        {
            do
            {
                foreach (var summary in store.ListTraces(max: 50))
                {
                    var spans = store.GetTrace(summary.TraceId);
                    Assert.NotNull(spans);
                    Assert.Equal(summary.TraceId, spans[0].TraceId);
                }
                readerStarted.TrySetResult();
            }
            while (!done.IsCancellationRequested);
        });
        var writers = Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
        {
            await readerStarted.Task;
            for (var batch = 0; batch < BatchesPerWriter; batch++)
            {
                // Each batch is one trace; writers also share trace 0.
                var trace = writer * 1000 + batch + 1;
                var spans = Enumerable.Range(0, SpansPerBatch)
                    .Select(i => Span(trace, $"s{i}", i == 0 ? null : "s0", $"w{writer}", batch + i * 0.01))
                    .Append(Span(0, $"w{writer}-b{batch}", null, "shared", 0))
                    .ToList();
                store.Add(spans);
            }
        })).ToList();

        await Task.WhenAll(writers);
        await done.CancelAsync();
        await reader; // rethrows what the reader saw

        Assert.Equal(Writers * BatchesPerWriter * (SpansPerBatch + 1), store.SpanCount);
        Assert.Equal(Writers * BatchesPerWriter + 1, store.TraceCount);
        Assert.Equal(Writers * BatchesPerWriter, store.GetTrace(TraceId(0))!.Count);
        Assert.Equal(Writers * BatchesPerWriter + 1, store.ListTraces(max: int.MaxValue).Count);
    }
}
