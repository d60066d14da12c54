namespace CremaD.Datasets;

/// <summary>
/// A labelled, partitioned set of clips under <paramref name="Root"/>. Built by <see cref="DatasetReader.Open"/>.
/// </summary>
/// <param name="Root">Absolute path of the data root; <see cref="ClipEntry.RelativePath"/> is relative to it.</param>
/// <param name="Layout">The layout the dataset was read from.</param>
/// <param name="Clips">The clips, in the order of labels.csv (course) or of file name (official).</param>
public sealed record Dataset(string Root, DatasetLayout Layout, IReadOnlyList<ClipEntry> Clips)
{
    /// <summary>Files seen but not taken (official layout: names that do not follow the CREMA-D scheme).</summary>
    public IReadOnlyList<RejectedFile> Rejected { get; init; } = [];

    /// <summary>Whether the labels are the acted emotions or the perceived ones (<see cref="PerceivedEmotions.Relabel"/>).</summary>
    public LabelSource LabelsFrom { get; init; } = LabelSource.Acted;

    /// <summary>The labels file the dataset was read from (course layout), or null.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>The cross-validation fold whose partitions these are (<see cref="ActorFolds.Apply"/>), or null.</summary>
    public FoldSplit? Fold { get; init; }

    /// <summary>Seed of the actor split (official layout), or null.</summary>
    public int? SplitSeed { get; init; }

    /// <summary>The demographics file that balanced the actor split by sex (official layout), or null when there was none.</summary>
    public string? DemographicsPath { get; init; }

    /// <summary>Absolute path of a clip's audio file.</summary>
    public string FullPath(ClipEntry clip) => System.IO.Path.Combine(Root, clip.RelativePath);

    public IEnumerable<ClipEntry> In(Partition partition) => Clips.Where(c => c.Partition == partition);

    public int Count(Partition partition) => Clips.Count(c => c.Partition == partition);

    /// <summary>Number of clips of each class (index = class id) in <paramref name="partition"/>, or in all partitions.</summary>
    public int[] CountByClass(Partition? partition = null)
    {
        var counts = new int[Emotions.Count];
        foreach (var clip in Clips)
        {
            if (partition is null || clip.Partition == partition) counts[clip.Label]++;
        }
        return counts;
    }

    /// <summary>Distinct actors in <paramref name="partition"/> (or in all partitions), sorted; clips without an actor are not counted.</summary>
    public IReadOnlyList<string> Actors(Partition? partition = null) =>
        Clips.Where(c => c.Actor is not null && (partition is null || c.Partition == partition))
            .Select(c => c.Actor!)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
}
