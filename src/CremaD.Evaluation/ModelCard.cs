using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CremaD.Datasets;

namespace CremaD.Evaluation;

/// <summary>What was evaluated: the model, its training recipe and the data it was trained and tested on.</summary>
/// <param name="Model">The model's name (for example its architecture and size).</param>
/// <param name="Recipe">The training options as model.json records them (null when the model directory has none).</param>
/// <param name="DatasetFingerprint">The feature store's dataset fingerprint (clips, labels, partitions).</param>
/// <param name="Partition">The partition the metrics are on (normally test).</param>
public sealed record ModelCardSubject(string Model, JsonElement? Recipe, string? DatasetFingerprint, string Partition);

/// <summary>
/// model_card.json: how a trained model does overall and for whom it does worse — accuracy, macro-F1 and per-class
/// recall by speaker sex, age band, race and ethnicity (CREMA-D's VideoDemographics, matched by actor id), the largest
/// gap between groups, what it was trained on, and what it is for. Groups with too few clips or actors carry their
/// counts and no metrics (<see cref="SpeakerGroupMetrics.TooFew"/>), never a 0 %.
/// </summary>
public sealed record ModelCard(
    int Format,
    ModelCardSubject Subject,
    int Clips,
    int Actors,
    double Accuracy,
    double MacroF1,
    IReadOnlyDictionary<string, double> PerClassRecall,
    IReadOnlyList<SpeakerGroupMetrics> Groups,
    IReadOnlyList<SpeakerGroupGap> Gaps,
    SpeakerGroupGap? LargestAccuracyGap,
    SpeakerGroupGap? LargestMacroF1Gap,
    int MinimumGroupClips,
    int MinimumGroupActors,
    int ClipsWithoutDemographics,
    string DemographicsSource,
    string IntendedUse,
    IReadOnlyList<string> Limitations)
{
    public const int CurrentFormat = 1;

    /// <summary>Fewest clips, and distinct actors, a group needs for its metrics to be reported.</summary>
    public const int DefaultMinimumClips = 30, DefaultMinimumActors = 2;

    public const string DefaultIntendedUse =
        "Research and teaching: recognising the acted emotion (anger, disgust, fear, happiness, neutral, sadness) of a short " +
        "English utterance recorded like CREMA-D (16 kHz mono, one speaker, studio conditions). Not for decisions about " +
        "people: hiring, health, policing, credit or surveillance.";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>
    /// The card of <paramref name="predictions"/> (one per evaluated clip, with its speaker's actor id, empty when the clip
    /// name carries none) against <paramref name="demographics"/>.
    /// </summary>
    public static ModelCard Build(ModelCardSubject subject, IReadOnlyList<SpeakerPrediction> predictions, IReadOnlyList<string> classNames,
        IReadOnlyDictionary<string, ActorInfo> demographics, string demographicsSource,
        int minimumClips = DefaultMinimumClips, int minimumActors = DefaultMinimumActors)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(demographics);
        if (predictions.Count == 0) throw new ArgumentException("A model card needs at least one evaluated clip.", nameof(predictions));
        var overall = ClassificationReport.Compute(predictions.Select(p => p.True).ToList(), predictions.Select(p => p.Predicted).ToList(), classNames);
        var recall = new OrderedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var row in overall.Classes) recall.Add(row.Name, row.Recall);
        var groups = SpeakerGroups.Compute(predictions, classNames, demographics, minimumClips, minimumActors);
        var gaps = SpeakerGroups.Gaps(groups);
        var unmatched = predictions.Count(p => !demographics.ContainsKey(p.Actor));
        var limitations = new List<string>
        {
            "Trained and tested on acted speech from 91 actors reading 12 sentences; spontaneous speech, other languages, " +
            "noise, far-field microphones and other recording chains are untested.",
            $"Group metrics come from the speakers of the {subject.Partition} partition only; a group with fewer than " +
            $"{minimumClips} clips or {minimumActors} actors is listed with its counts and no metrics.",
            "Race and ethnicity are CREMA-D's self-reported categories; several groups have few actors, so their rates vary " +
            "with who happens to be in the test partition (compare folds of `cremad cv` before drawing conclusions).",
        };
        if (unmatched > 0)
            limitations.Add($"{unmatched} of {predictions.Count} clips have no CREMA-D actor in the demographics table and are counted as 'unknown'.");
        return new ModelCard(CurrentFormat, subject, predictions.Count, predictions.Select(p => p.Actor).Where(a => a.Length > 0).Distinct(StringComparer.Ordinal).Count(),
            overall.Accuracy, overall.MacroAvg.F1, recall, groups, gaps,
            SpeakerGroups.Largest(gaps, "accuracy"), SpeakerGroups.Largest(gaps, "macro_f1"),
            minimumClips, minimumActors, unmatched, demographicsSource, DefaultIntendedUse, limitations);
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelCard FromJson(string json) =>
        JsonSerializer.Deserialize<ModelCard>(json, Json) ?? throw new InvalidDataException("A model card must be a JSON object.");

    /// <summary>The card as Markdown: headline, the largest gaps, a table per attribute, the recipe and the intended use.</summary>
    public string ToMarkdown(string? pngName = null)
    {
        var inv = CultureInfo.InvariantCulture;
        string Percent(double? value) => value is { } v ? (100 * v).ToString("0.0", inv) + " %" : "—";
        var text = new StringBuilder();
        text.Append("# Model card: ").Append(Subject.Model).Append("\n\n");
        text.Append(CultureInfo.InvariantCulture, $"**{Subject.Partition} partition**: {Clips} clips from {Actors} {(Actors == 1 ? "actor" : "actors")}. ")
            .Append(CultureInfo.InvariantCulture, $"Accuracy **{Percent(Accuracy)}**, macro-F1 **{MacroF1.ToString("0.000", inv)}**.\n\n");
        text.Append("## Where it does worse\n\n");
        if (LargestAccuracyGap is { } accuracyGap)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"Largest accuracy gap: **{(100 * accuracyGap.Gap).ToString("0.0", inv)} points** by {AttributeName(accuracyGap.Attribute)} " +
                $"({accuracyGap.HighestGroup} {Percent(accuracyGap.Highest)} vs {accuracyGap.LowestGroup} {Percent(accuracyGap.Lowest)}).");
            if (LargestMacroF1Gap is { } f1Gap)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $" Largest macro-F1 gap: **{f1Gap.Gap.ToString("0.000", inv)}** by {AttributeName(f1Gap.Attribute)} " +
                    $"({f1Gap.HighestGroup} {f1Gap.Highest.ToString("0.000", inv)} vs {f1Gap.LowestGroup} {f1Gap.Lowest.ToString("0.000", inv)}).");
            }
            text.Append("\n\n");
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture,
                $"No attribute has two groups with at least {MinimumGroupClips} clips and {MinimumGroupActors} actors in this partition: no gap can be measured.\n\n");
        }
        if (pngName is not null) text.Append("![Accuracy by speaker group](").Append(pngName).Append(")\n\n");
        var classes = PerClassRecall.Keys.ToList();
        foreach (var attribute in SpeakerGroups.Attributes)
        {
            text.Append("### By ").Append(AttributeName(attribute)).Append("\n\n");
            text.Append("| group | clips | actors | accuracy | macro-F1 | ").Append(string.Join(" | ", classes.Select(c => c + " recall"))).Append(" |\n");
            text.Append("|---|---|---|---|---|").Append(string.Concat(classes.Select(_ => "---|"))).Append('\n');
            foreach (var group in Groups.Where(g => g.Attribute == attribute))
            {
                text.Append(CultureInfo.InvariantCulture, $"| {group.Group} | {group.Clips} | {group.Actors} | ");
                if (group.TooFew)
                {
                    text.Append("too few to report | — | ").Append(string.Join(" | ", classes.Select(_ => "—"))).Append(" |\n");
                    continue;
                }
                text.Append(Percent(group.Accuracy)).Append(" | ").Append(group.MacroF1!.Value.ToString("0.000", inv)).Append(" | ")
                    .Append(string.Join(" | ", classes.Select(c => Percent(group.PerClassRecall!.GetValueOrDefault(c))))).Append(" |\n");
            }
            text.Append('\n');
        }
        text.Append("Overall recall: ").Append(string.Join(", ", PerClassRecall.Select(r => $"{r.Key} {Percent(r.Value)}"))).Append(".\n\n");
        text.Append("## Data and recipe\n\n");
        text.Append("- Dataset fingerprint: `").Append(Subject.DatasetFingerprint ?? "unknown").Append("`\n");
        text.Append("- Speaker demographics: ").Append(DemographicsSource).Append('\n');
        if (Subject.Recipe is { } recipe)
            text.Append("- Recipe: `").Append(JsonSerializer.Serialize(recipe)).Append("`\n");
        text.Append("\n## Intended use\n\n").Append(IntendedUse).Append("\n\n## Limitations\n\n");
        foreach (var limitation in Limitations) text.Append("- ").Append(limitation).Append('\n');
        return text.ToString();
    }

    public static string AttributeName(string attribute) => attribute switch
    {
        SpeakerGroups.Sex => "sex",
        SpeakerGroups.AgeBand => "age band",
        SpeakerGroups.Race => "race",
        SpeakerGroups.Ethnicity => "ethnicity",
        _ => attribute,
    };
}

/// <summary>Writes a run's model card: model_card.json, model_card.md and model_card.png.</summary>
public static class ModelCardArtifacts
{
    /// <summary>JSON first, then Markdown, then the plot: a plotting failure never costs the numbers.</summary>
    public static void Write(string directory, ModelCard card)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(card);
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, ArtifactNames.ModelCardJson), card.ToJson());
        AtomicFile.WriteAllText(Path.Combine(directory, ArtifactNames.ModelCardMarkdown), card.ToMarkdown(ArtifactNames.ModelCardPlot));
        Plots.SaveModelCard(card, Path.Combine(directory, ArtifactNames.ModelCardPlot));
    }
}
