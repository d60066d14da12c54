using CremaD.Datasets;

namespace CremaD.Evaluation;

/// <summary>One evaluated clip: its true and predicted class and the actor who spoke it.</summary>
public readonly record struct SpeakerPrediction(int True, int Predicted, string Actor);

/// <summary>
/// Test metrics of one speaker group (for example sex = Female). A group with fewer than the minimum clips or actors is
/// reported with its counts and <see cref="TooFew"/> set, and no metrics: a rate over a handful of clips or one actor is
/// noise, and 0 % would read as a failure.
/// </summary>
public sealed record SpeakerGroupMetrics(
    string Attribute,
    string Group,
    int Clips,
    int Actors,
    bool TooFew,
    double? Accuracy,
    double? MacroF1,
    IReadOnlyDictionary<string, double>? PerClassRecall);

/// <summary>The largest difference of one metric between the reportable groups of one attribute.</summary>
public sealed record SpeakerGroupGap(string Attribute, string Metric, string HighestGroup, double Highest, string LowestGroup, double Lowest)
{
    public double Gap => Highest - Lowest;
}

/// <summary>
/// Splits evaluated clips by the demographics of their speakers (CREMA-D's <c>VideoDemographics.csv</c>, matched by actor
/// id) and computes accuracy, macro-F1 and per-class recall per group, for the attributes sex, age band, race and
/// ethnicity, and the largest gap between the groups of each.
/// </summary>
public static class SpeakerGroups
{
    public const string Sex = "sex", AgeBand = "age_band", Race = "race", Ethnicity = "ethnicity";

    /// <summary>The attributes reported, in order.</summary>
    public static IReadOnlyList<string> Attributes { get; } = [Sex, AgeBand, Race, Ethnicity];

    /// <summary>Group name of speakers whose actor id is not in the demographics table.</summary>
    public const string UnknownGroup = "unknown";

    /// <summary>Age bands of CREMA-D's speakers (20–74 years): decade-and-a-half bands keep each band populated.</summary>
    /// <summary>The age bands, youngest first (the order cards list them in).</summary>
    public static readonly string[] AgeBands = ["under 30", "30-44", "45-59", "60 and over"];

    public static string AgeBandOf(int? age) => age switch
    {
        null => UnknownGroup,
        < 30 => "under 30",
        < 45 => "30-44",
        < 60 => "45-59",
        _ => "60 and over",
    };

    public static string GroupOf(ActorInfo? actor, string attribute) => attribute switch
    {
        Sex => actor is null ? UnknownGroup : actor.Sex,
        AgeBand => AgeBandOf(actor?.Age),
        Race => actor is null || actor.Race.Length == 0 ? UnknownGroup : actor.Race,
        Ethnicity => actor is null || actor.Ethnicity.Length == 0 ? UnknownGroup : actor.Ethnicity,
        _ => throw new ArgumentOutOfRangeException(nameof(attribute), attribute, "Unknown speaker attribute."),
    };

    /// <param name="minClips">Fewest clips a group needs for its metrics to be reported.</param>
    /// <param name="minActors">Fewest distinct actors a group needs (one actor's voice is not a group).</param>
    public static IReadOnlyList<SpeakerGroupMetrics> Compute(IReadOnlyList<SpeakerPrediction> predictions, IReadOnlyList<string> classNames,
        IReadOnlyDictionary<string, ActorInfo> demographics, int minClips = 30, int minActors = 2)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(demographics);
        LabelValidation.CheckClassNames(classNames, nameof(classNames));
        ArgumentOutOfRangeException.ThrowIfLessThan(minClips, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minActors, 1);

        var groups = new List<SpeakerGroupMetrics>();
        foreach (var attribute in Attributes)
        {
            var byGroup = predictions
                .GroupBy(p => GroupOf(demographics.GetValueOrDefault(p.Actor), attribute), StringComparer.Ordinal)
                .OrderBy(g => g.Key == UnknownGroup ? 1 : 0)
                .ThenBy(g => attribute == AgeBand ? Array.IndexOf(AgeBands, g.Key) : 0).ThenBy(g => g.Key, StringComparer.Ordinal);
            foreach (var group in byGroup)
            {
                var clips = group.ToList();
                // Clips whose names carry no actor id (empty) are nobody's: they count as clips, not as an actor.
                var actors = clips.Select(p => p.Actor).Where(a => a.Length > 0).Distinct(StringComparer.Ordinal).Count();
                if (clips.Count < minClips || actors < minActors)
                {
                    groups.Add(new SpeakerGroupMetrics(attribute, group.Key, clips.Count, actors, true, null, null, null));
                    continue;
                }
                var report = ClassificationReport.Compute(clips.Select(p => p.True).ToList(), clips.Select(p => p.Predicted).ToList(), classNames);
                var recalls = new OrderedDictionary<string, double>(StringComparer.Ordinal);
                foreach (var row in report.Classes) recalls.Add(row.Name, row.Recall);
                groups.Add(new SpeakerGroupMetrics(attribute, group.Key, clips.Count, actors, false, report.Accuracy, report.MacroAvg.F1, recalls));
            }
        }
        return groups;
    }

    /// <summary>
    /// Per attribute, the largest accuracy and macro-F1 differences between its reportable groups (the unknown group
    /// left out); attributes with fewer than two reportable groups have no gap.
    /// </summary>
    public static IReadOnlyList<SpeakerGroupGap> Gaps(IReadOnlyList<SpeakerGroupMetrics> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var gaps = new List<SpeakerGroupGap>();
        foreach (var attribute in Attributes)
        {
            var reportable = groups.Where(g => g.Attribute == attribute && !g.TooFew && g.Group != UnknownGroup).ToList();
            if (reportable.Count < 2) continue;
            foreach (var (metric, value) in new (string, Func<SpeakerGroupMetrics, double>)[] { ("accuracy", g => g.Accuracy!.Value), ("macro_f1", g => g.MacroF1!.Value) })
            {
                var highest = reportable.MaxBy(value)!;
                var lowest = reportable.MinBy(value)!;
                gaps.Add(new SpeakerGroupGap(attribute, metric, highest.Group, value(highest), lowest.Group, value(lowest)));
            }
        }
        return gaps;
    }

    /// <summary>The largest gap of one metric across all attributes, or null when no attribute has two reportable groups.</summary>
    public static SpeakerGroupGap? Largest(IReadOnlyList<SpeakerGroupGap> gaps, string metric = "accuracy") =>
        gaps.Where(g => g.Metric == metric).MaxBy(g => g.Gap);
}
