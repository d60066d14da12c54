using System.Text.Json;

namespace CremaD.Contracts.Tests;

public sealed class FoldTests
{
    [Theory]
    [InlineData(1, 3, null)]
    [InlineData(30, 30, null)]
    [InlineData(1, 2, "fold count must be in 3..30")]
    [InlineData(1, 31, "fold count must be in 3..30")]
    [InlineData(0, 5, "fold index must be in 1..5, got 0.")]
    [InlineData(6, 5, "fold index must be in 1..5, got 6.")]
    public void A_fold_names_a_fold_of_3_to_30(int index, int count, string? problem)
    {
        var problems = new DatasetRef("datasets/demo/", Fold: new FoldRef(index, count)).FindProblems();
        if (problem is null) Assert.Empty(problems);
        else Assert.Contains(problems, p => p.StartsWith(problem, StringComparison.Ordinal));
    }

    [Fact]
    public void A_fold_travels_in_the_dataset_reference_and_a_sweep_request_takes_defaults()
    {
        var reference = new DatasetRef("datasets/demo/", Fold: new FoldRef(2, 5, 7));
        var json = JsonSerializer.Serialize(reference, ServiceJson.Options);
        var fold = JsonDocument.Parse(json).RootElement.GetProperty("fold");
        Assert.Equal((2, 5, 7), (fold.GetProperty("index").GetInt32(), fold.GetProperty("count").GetInt32(), fold.GetProperty("seed").GetInt32()));
        Assert.Equal(reference, JsonSerializer.Deserialize<DatasetRef>(json, ServiceJson.Options));
        // Without a fold, the layout's partitions.
        Assert.Null(JsonSerializer.Deserialize<DatasetRef>("""{"prefix":"datasets/demo/"}""", ServiceJson.Options)!.Fold);

        var sweep = JsonSerializer.Deserialize<SubmitSweepRequest>("""{"dataset":"demo","folds":4,"config":{"epochs":3}}""", ServiceJson.Options)!;
        Assert.Equal(new SubmitSweepRequest("demo", 4, RunConfig.Default with { Epochs = 3 }), sweep);
        Assert.Equal(42, sweep.FoldSeed);
    }
}
