using System.Buffers.Binary;
using CremaD.Datasets;

namespace CremaD.Evaluation.Tests;

public class ModelCardTests : IDisposable
{
    private static readonly string[] Names = ["anger", "sadness"];
    private readonly string directory = Path.Combine(Path.GetTempPath(), "cremad-model-card-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    /// <summary><paramref name="correct"/> of <paramref name="clips"/> clips of the actor right, the rest wrong.</summary>
    private static IEnumerable<SpeakerPrediction> Clips(string actor, int clips, int correct) =>
        Enumerable.Range(0, clips).Select(i => new SpeakerPrediction(i % 2, i < correct ? i % 2 : 1 - i % 2, actor));

    private static ModelCardSubject Subject => new("BiGRU 2×256", null, "abc123", "test");

    [Fact]
    public void The_built_in_demographics_are_CREMA_Ds_91_actors()
    {
        var actors = ActorDemographics.CremaD;
        Assert.Equal(91, actors.Count);
        Assert.Equal(new ActorInfo("1001", 51, "Male", "Caucasian", "Not Hispanic"), actors["1001"]);
        Assert.Equal(48, actors.Values.Count(a => a.Sex == "Male"));
        Assert.Equal(43, actors.Values.Count(a => a.Sex == "Female"));
        Assert.All(Enumerable.Range(1001, 91), id => Assert.True(actors.ContainsKey(id.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Fact]
    public void The_card_names_the_largest_gap_and_reports_small_groups_as_such()
    {
        // Men 1001 and 1005: 20 of 40 right; women 1002, 1003 and 1004: 42 of 46 right (1004 alone in her age band, 6 clips);
        // 5 clips whose names carry no actor id. Only sex has two reportable groups: the other attributes have one.
        var predictions = Clips("1001", 20, 10).Concat(Clips("1005", 20, 10)).Concat(Clips("1002", 20, 18)).Concat(Clips("1003", 20, 18))
            .Concat(Clips("1004", 6, 6)).Concat(Clips("", 5, 5)).ToList();
        var card = ModelCard.Build(Subject, predictions, Names, ActorDemographics.CremaD, ActorDemographics.BuiltInSource);

        Assert.Equal((91, 5), (card.Clips, card.Actors));
        Assert.Equal(5, card.ClipsWithoutDemographics);
        Assert.Equal(67 / 91.0, card.Accuracy, 12);
        var gap = card.LargestAccuracyGap!;
        Assert.Equal((SpeakerGroups.Sex, "Female", "Male"), (gap.Attribute, gap.HighestGroup, gap.LowestGroup));
        Assert.Equal(42 / 46.0 - 0.5, gap.Gap, 12);
        var unknown = Assert.Single(card.Groups, g => g.Attribute == SpeakerGroups.Sex && g.Group == SpeakerGroups.UnknownGroup);
        Assert.True(unknown.TooFew);
        Assert.Null(unknown.Accuracy);
        Assert.Contains(card.Limitations, l => l.Contains("5 of 91 clips", StringComparison.Ordinal));

        var markdown = card.ToMarkdown("model_card.png");
        Assert.Contains("Largest accuracy gap: **", markdown, StringComparison.Ordinal);
        Assert.Contains("by sex (Female", markdown, StringComparison.Ordinal);
        Assert.Contains("| unknown | 5 | 0 | too few to report |", markdown, StringComparison.Ordinal);
        Assert.Contains("`abc123`", markdown, StringComparison.Ordinal);
        Assert.Contains("![Accuracy by speaker group](model_card.png)", markdown, StringComparison.Ordinal);
        Assert.Contains("Not for decisions about people", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_two_reportable_groups_the_card_says_no_gap_can_be_measured()
    {
        var card = ModelCard.Build(Subject, Clips("1001", 12, 6).ToList(), Names, ActorDemographics.CremaD, ActorDemographics.BuiltInSource);
        Assert.Null(card.LargestAccuracyGap);
        Assert.All(card.Groups, g => Assert.True(g.TooFew));
        Assert.Contains("no gap can be measured", card.ToMarkdown(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_artefacts_are_json_markdown_and_a_png_and_the_json_reads_back()
    {
        var predictions = Clips("1001", 20, 10).Concat(Clips("1005", 20, 10)).Concat(Clips("1002", 20, 18)).Concat(Clips("1003", 20, 18)).ToList();
        var recipe = System.Text.Json.JsonDocument.Parse("""{"epochs": 3, "hidden_size": 16}""").RootElement.Clone();
        var card = ModelCard.Build(Subject with { Recipe = recipe }, predictions, Names, ActorDemographics.CremaD, ActorDemographics.BuiltInSource);
        ModelCardArtifacts.Write(directory, card);

        var read = ModelCard.FromJson(File.ReadAllText(Path.Combine(directory, ArtifactNames.ModelCardJson)));
        Assert.Equal(card.Accuracy, read.Accuracy);
        Assert.Equal(card.Groups.Count, read.Groups.Count);
        Assert.Equal(card.LargestAccuracyGap!.Gap, read.LargestAccuracyGap!.Gap, 12);
        Assert.Equal(16, read.Subject.Recipe!.Value.GetProperty("hidden_size").GetInt32());
        Assert.Contains("\"largest_accuracy_gap\"", File.ReadAllText(Path.Combine(directory, ArtifactNames.ModelCardJson)), StringComparison.Ordinal);
        Assert.Contains("# Model card: BiGRU 2×256", File.ReadAllText(Path.Combine(directory, ArtifactNames.ModelCardMarkdown)), StringComparison.Ordinal);

        var png = File.ReadAllBytes(Path.Combine(directory, ArtifactNames.ModelCardPlot));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal(Plots.ModelCardWidth, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.True(BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)) >= Plots.ModelCardHeight);
        Assert.True(png.Length > 10_000, "a rendered chart, not an empty canvas");
    }
}
