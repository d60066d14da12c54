namespace CremaD.Contracts;

/// <summary>The body of <c>POST /runs</c>.</summary>
/// <param name="Dataset">A dataset name (<c>demo</c> → <c>datasets/demo/</c>) or a blob prefix ending with '/'.</param>
/// <param name="Config">The run's recipe; omitted properties take their defaults (<c>{"epochs": 5}</c> is complete).</param>
/// <param name="LabelsFrom"><c>acted</c> (default) or <c>perceived</c>: see <see cref="LabelSourceChoice"/>.</param>
public sealed record SubmitRunRequest(string? Dataset, RunConfig? Config = null, string? Name = null,
    DatasetLayoutChoice Layout = DatasetLayoutChoice.Auto, int SplitSeed = 42, LabelSourceChoice LabelsFrom = LabelSourceChoice.Acted);
