namespace CremaD.Datasets;

/// <summary>Speaker-independent folds: every actor in exactly one fold, each fold with as even a share of each sex as the actors allow.</summary>
public static class ActorFolds
{
    /// <summary>
    /// Deals the actors into <paramref name="folds"/> folds. Actors are grouped by sex (from
    /// <paramref name="demographics"/>; unknown actors form a group of their own), each group is shuffled with
    /// <paramref name="seed"/>, and the groups are dealt round-robin one after the other, the dealing continuing where
    /// the previous group stopped: every fold gets ⌊n/K⌋ or ⌈n/K⌉ actors of each sex, and ⌊N/K⌋ or ⌈N/K⌉ in all.
    /// The same actors, fold count and seed always give the same folds.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> Assign(IEnumerable<string> actors, int folds, int seed,
        IReadOnlyDictionary<string, ActorInfo>? demographics = null)
    {
        demographics ??= ActorDemographics.CremaD;
        var distinct = actors.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (folds < 2) throw new ArgumentException($"Cross-validation needs at least 2 folds, got {folds}.");
        if (distinct.Count < folds) throw new ArgumentException($"{folds} folds need at least {folds} actors; the data has {distinct.Count}.");
        var result = Enumerable.Range(0, folds).Select(_ => new List<string>()).ToArray();
        var random = new Random(seed);
        var next = 0;
        foreach (var group in distinct.GroupBy(a => demographics.TryGetValue(a, out var info) ? info.Sex : "unknown")
                     .OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = group.ToArray();
            random.Shuffle(members);
            foreach (var actor in members)
            {
                result[next].Add(actor);
                next = (next + 1) % folds;
            }
        }
        return result.Select(f => (IReadOnlyList<string>)f.Order(StringComparer.Ordinal).ToList()).ToList();
    }

    /// <summary>Each actor's fold (0-based) in <paramref name="folds"/>.</summary>
    public static IReadOnlyDictionary<string, int> FoldOfActor(IReadOnlyList<IReadOnlyList<string>> folds)
    {
        var foldOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var f = 0; f < folds.Count; f++)
            foreach (var actor in folds[f]) foldOf[actor] = f;
        return foldOf;
    }

    /// <summary>
    /// The dataset with its partitions replaced by fold <paramref name="fold"/>'s: its actors' clips are the test
    /// partition, the next fold's (mod K) the validation partition, every other clip train. Rejected files, labels and
    /// everything else are kept. Used by the readers for a cross-validation fold (<see cref="DatasetOptions.Fold"/>).
    /// </summary>
    /// <exception cref="DatasetFormatException">A clip has no actor (a course-layout file not named after CREMA-D's scheme).</exception>
    public static Dataset Apply(Dataset dataset, FoldSplit fold)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(fold);
        fold.Validate();
        if (dataset.Clips.FirstOrDefault(c => c.Actor is null) is { } anonymous)
        {
            throw new DatasetFormatException(dataset.FullPath(anonymous), null,
                "cross-validation folds are formed by speaker, and this clip has no actor (neither an actor column nor a CREMA-D file name)");
        }
        IReadOnlyList<IReadOnlyList<string>> folds;
        try
        {
            folds = Assign(dataset.Clips.Select(c => c.Actor!), fold.Count, fold.Seed);
        }
        catch (ArgumentException e)
        {
            throw new DatasetFormatException(dataset.Root, null, e.Message);
        }
        var foldOf = FoldOfActor(folds);
        return dataset with
        {
            Clips = dataset.Clips.Select(c => c with { Partition = fold.PartitionOf(foldOf[c.Actor!]) }).ToList(),
            Fold = fold,
        };
    }
}

/// <summary>
/// One fold of a speaker-independent k-fold cross-validation: fold <see cref="Index"/> (0-based) of <see cref="Count"/>,
/// actors dealt by <see cref="ActorFolds.Assign"/> with <see cref="Seed"/>.
/// </summary>
public sealed record FoldSplit(int Index, int Count, int Seed = 42)
{
    /// <summary>Most folds: each needs test and validation speakers, and CREMA-D has 91 actors.</summary>
    public const int MaxCount = 30;

    /// <summary>Where a clip whose speaker is in fold <paramref name="actorFold"/> goes: this fold tests, the next one validates, the rest train.</summary>
    public Partition PartitionOf(int actorFold) =>
        actorFold == Index ? Partition.Test : actorFold == (Index + 1) % Count ? Partition.Validation : Partition.Train;

    public void Validate()
    {
        if (Count is < 3 or > MaxCount) throw new ArgumentException($"A cross-validation needs 3 to {MaxCount} folds (one tests, the next validates, the rest train), got {Count}.");
        if (Index < 0 || Index >= Count) throw new ArgumentException($"Fold index {Index} is outside 0..{Count - 1}.");
    }
}

