using CremaD.Orchestration.Dashboard;
using CremaD.Orchestration.Telemetry;

namespace CremaD.AppHost.Tests.Dashboard;

/// <summary>How a trace's spans are laid out for the waterfall, including traces whose spans arrive incomplete.</summary>
public sealed class TraceWaterfallTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static SpanRecord Span(string id, string? parent, string name, double startMs, double endMs) => new(
        new string('a', 32), id, parent, name, "trainer-service", null, "internal", "CremaD.Training",
        T0.AddMilliseconds(startMs), T0.AddMilliseconds(endMs), "unset", null, new Dictionary<string, string>(), []);

    [Fact]
    public void Lists_each_parent_before_its_children_in_start_order()
    {
        var waterfall = TraceWaterfall.From(new string('a', 32), [
            Span("0000000000000004", "0000000000000002", "epoch 2", 300, 400),
            Span("0000000000000002", "0000000000000001", "train model", 100, 500),
            Span("0000000000000003", "0000000000000002", "epoch 1", 150, 290),
            Span("0000000000000001", null, "run", 0, 600),
            Span("0000000000000005", "0000000000000001", "evaluate", 510, 590),
        ]);
        Assert.Equal(["run", "train model", "epoch 1", "epoch 2", "evaluate"], waterfall.Spans.Select(s => s.Name));
        Assert.Equal([0, 1, 2, 2, 1], waterfall.Spans.Select(s => s.Depth));
        Assert.Equal([0.0, 100, 150, 300, 510], waterfall.Spans.Select(s => s.OffsetMs));
        Assert.Equal(600, waterfall.DurationMs);
    }

    [Fact]
    public void Shows_spans_whose_parent_is_missing_or_circular()
    {
        var waterfall = TraceWaterfall.From(new string('a', 32), [
            Span("0000000000000002", "00000000000000ff", "orphan", 50, 80),
            Span("0000000000000001", null, "root", 0, 100),
            Span("0000000000000003", "0000000000000004", "loop a", 10, 20),
            Span("0000000000000004", "0000000000000003", "loop b", 12, 18),
        ]);
        Assert.Equal(4, waterfall.Spans.Count);
        Assert.Equal(["root", "orphan"], waterfall.Spans.Take(2).Select(s => s.Name));
        Assert.All(waterfall.Spans.Take(2), s => Assert.Equal(0, s.Depth));
        Assert.Equal(["loop a", "loop b"], waterfall.Spans.Skip(2).Select(s => s.Name));
    }
}
