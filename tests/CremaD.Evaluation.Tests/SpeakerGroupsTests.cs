using CremaD.Datasets;

namespace CremaD.Evaluation.Tests;

public class SpeakerGroupsTests
{
    private static readonly string[] Names = ["anger", "sadness"];

    private static readonly Dictionary<string, ActorInfo> Demographics = new()
    {
        ["1001"] = new ActorInfo("1001", 51, "Male", "Caucasian", "Not Hispanic"),
        ["1002"] = new ActorInfo("1002", 21, "Female", "Caucasian", "Not Hispanic"),
        ["1003"] = new ActorInfo("1003", 35, "Female", "African American", "Not Hispanic"),
        ["1004"] = new ActorInfo("1004", 62, "Male", "Asian", "Hispanic"),
    };

    /// <summary><paramref name="correct"/> of <paramref name="clips"/> clips of the actor right, the rest wrong.</summary>
    private static IEnumerable<SpeakerPrediction> Clips(string actor, int clips, int correct) =>
        Enumerable.Range(0, clips).Select(i => new SpeakerPrediction(i % 2, i < correct ? i % 2 : 1 - i % 2, actor));

    [Fact]
    public void Groups_are_scored_by_the_speakers_demographics()
    {
        // Males (1001, 1004): 20 of 40 right; females (1002, 1003): 36 of 40 right.
        var predictions = Clips("1001", 20, 10).Concat(Clips("1004", 20, 10)).Concat(Clips("1002", 20, 18)).Concat(Clips("1003", 20, 18)).ToList();
        var groups = SpeakerGroups.Compute(predictions, Names, Demographics, minClips: 30, minActors: 2);

        var male = Assert.Single(groups, g => g.Attribute == SpeakerGroups.Sex && g.Group == "Male");
        var female = Assert.Single(groups, g => g.Attribute == SpeakerGroups.Sex && g.Group == "Female");
        Assert.Equal((40, 2, false), (male.Clips, male.Actors, male.TooFew));
        Assert.Equal(0.5, male.Accuracy!.Value, 12);
        Assert.Equal(0.9, female.Accuracy!.Value, 12);
        Assert.Equal(Names, female.PerClassRecall!.Keys);

        var gap = SpeakerGroups.Largest(SpeakerGroups.Gaps(groups))!;
        Assert.Equal((SpeakerGroups.Sex, "Female", "Male"), (gap.Attribute, gap.HighestGroup, gap.LowestGroup));
        Assert.Equal(0.4, gap.Gap, 12);
    }

    [Fact]
    public void Small_groups_are_reported_as_too_few_not_as_zero()
    {
        var predictions = Clips("1001", 20, 10).Concat(Clips("1004", 20, 10)).Concat(Clips("1002", 20, 0)).ToList();
        var groups = SpeakerGroups.Compute(predictions, Names, Demographics, minClips: 30, minActors: 2);

        // One female actor: not a group, whatever her clip count.
        var female = Assert.Single(groups, g => g.Attribute == SpeakerGroups.Sex && g.Group == "Female");
        Assert.True(female.TooFew);
        Assert.Null(female.Accuracy);
        Assert.Equal((20, 1), (female.Clips, female.Actors));
        // Every age band here holds one actor.
        Assert.All(groups.Where(g => g.Attribute == SpeakerGroups.AgeBand), g => Assert.True(g.TooFew));
        // No attribute has two reportable groups: no gap is invented.
        Assert.Null(SpeakerGroups.Largest(SpeakerGroups.Gaps(groups)));
    }

    [Fact]
    public void Actors_missing_from_the_demographics_form_the_unknown_group_and_never_a_gap()
    {
        var predictions = Clips("1001", 20, 10).Concat(Clips("1004", 20, 10)).Concat(Clips("9998", 20, 20)).Concat(Clips("9999", 20, 20)).ToList();
        var groups = SpeakerGroups.Compute(predictions, Names, Demographics, minClips: 30, minActors: 2);

        var unknown = Assert.Single(groups, g => g.Attribute == SpeakerGroups.Sex && g.Group == SpeakerGroups.UnknownGroup);
        Assert.Equal(1.0, unknown.Accuracy!.Value, 12);
        Assert.Equal(SpeakerGroups.UnknownGroup, groups.Last(g => g.Attribute == SpeakerGroups.Sex).Group);
        Assert.DoesNotContain(SpeakerGroups.Gaps(groups), g => g.Attribute == SpeakerGroups.Sex);
    }

    [Theory]
    [InlineData(null, "unknown")]
    [InlineData(20, "under 30")]
    [InlineData(30, "30-44")]
    [InlineData(44, "30-44")]
    [InlineData(45, "45-59")]
    [InlineData(74, "60 and over")]
    public void Ages_fall_into_bands(int? age, string band) => Assert.Equal(band, SpeakerGroups.AgeBandOf(age));
}
