using CremaD.Datasets;
using CremaD.Pipeline;

namespace CremaD.Cli.Tests;

public sealed class ActorFoldsTests
{
    [Theory]
    [InlineData(5)]
    [InlineData(10)]
    public void CREMA_D_s_91_actors_fall_into_folds_of_even_size_and_even_sex_balance(int k)
    {
        var demographics = ActorDemographics.CremaD;
        var folds = ActorFolds.Assign(demographics.Keys, k, seed: 42, demographics);

        Assert.Equal(k, folds.Count);
        // Every actor in exactly one fold.
        Assert.Equal(demographics.Keys.Order(StringComparer.Ordinal), folds.SelectMany(f => f).Order(StringComparer.Ordinal));
        Assert.InRange(folds.Max(f => f.Count) - folds.Min(f => f.Count), 0, 1);
        foreach (var sex in demographics.Values.Select(a => a.Sex).Distinct())
        {
            var perFold = folds.Select(f => f.Count(a => demographics[a].Sex == sex)).ToArray();
            Assert.True(perFold.Max() - perFold.Min() <= 1, $"{sex}: {string.Join(", ", perFold)} per fold");
        }
        // Deterministic for a seed, different for another.
        Assert.Equal(folds, ActorFolds.Assign(demographics.Keys.Reverse(), k, seed: 42, demographics));
        Assert.NotEqual(folds, ActorFolds.Assign(demographics.Keys, k, seed: 7, demographics));
    }

    [Fact]
    public void Actors_without_demographics_are_a_group_of_their_own_and_too_few_actors_are_refused()
    {
        var folds = ActorFolds.Assign(["1001", "1002", "9001", "9002", "9003"], 2, 1, ActorDemographics.CremaD);
        Assert.Equal(5, folds.Sum(f => f.Count));
        Assert.InRange(folds.Min(f => f.Count(a => a.StartsWith('9'))), 1, 2);
        var error = Assert.Throws<ArgumentException>(() => ActorFolds.Assign(["1001", "1002"], 3, 1, ActorDemographics.CremaD));
        Assert.Contains("3 folds need at least 3 actors", error.Message, StringComparison.Ordinal);
    }
}
