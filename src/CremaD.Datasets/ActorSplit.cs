namespace CremaD.Datasets;

/// <summary>Shares of actors per partition; they must be non-negative and add up to 1.</summary>
public sealed record SplitFractions(double Train, double Validation, double Test)
{
    /// <summary>70/15/15, the course's split.</summary>
    public static SplitFractions Default { get; } = new(0.70, 0.15, 0.15);

    internal void Validate()
    {
        if (Train <= 0 || Validation < 0 || Test < 0 || Math.Abs(Train + Validation + Test - 1.0) > 1e-6)
        {
            throw new ArgumentException($"split fractions must be non-negative, train > 0, and add up to 1 (got {Train}/{Validation}/{Test})");
        }
    }
}

/// <summary>
/// Speaker-independent split: every actor's clips go to exactly one partition, so validation and test
/// measure generalisation to unseen voices. Actors are split within each sex separately, so every
/// partition gets about the same male/female ratio; the split depends only on the actor ids, the
/// demographics and the seed.
/// </summary>
public static class ActorSplit
{
    /// <param name="actors">Actor ids (duplicates ignored).</param>
    /// <param name="demographics">Sex per actor; actors missing from it (or all, when null) form one "Unknown" group.</param>
    public static IReadOnlyDictionary<string, Partition> Split(
        IEnumerable<string> actors,
        IReadOnlyDictionary<string, ActorInfo>? demographics,
        int seed,
        SplitFractions? fractions = null)
    {
        fractions ??= SplitFractions.Default;
        fractions.Validate();
        var groups = actors.Distinct(StringComparer.Ordinal)
            .GroupBy(a => demographics is not null && demographics.TryGetValue(a, out var info) ? info.Sex : "Unknown", StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Sex: g.Key, Actors: g.Order(StringComparer.Ordinal).ToList()))
            .ToList();

        var random = new SplitMix64((ulong)(uint)seed);
        var result = new Dictionary<string, Partition>(StringComparer.Ordinal);
        var trainByGroup = new List<List<string>>();
        foreach (var (_, members) in groups)
        {
            Shuffle(members, random);
            var n = members.Count;
            var validation = (int)Math.Round(n * fractions.Validation, MidpointRounding.AwayFromZero);
            var test = (int)Math.Round(n * fractions.Test, MidpointRounding.AwayFromZero);
            if (n >= 3)
            {
                // A group big enough to spare one actor per partition does, so small corpora still get
                // both sexes into validation and test.
                if (fractions.Validation > 0) validation = Math.Max(1, validation);
                if (fractions.Test > 0) test = Math.Max(1, test);
            }
            while (validation + test > Math.Max(0, n - 1))
            {
                if (test >= validation && test > 0) test--; else validation--;
            }
            for (var i = 0; i < n; i++)
            {
                result[members[i]] = i < validation ? Partition.Validation : i < validation + test ? Partition.Test : Partition.Train;
            }
            trainByGroup.Add(members.Skip(validation + test).ToList());
        }

        // Groups too small to spare anyone (e.g. 2 men and 2 women) would leave a partition empty:
        // take an actor from the largest group's training actors instead.
        foreach (var (partition, fraction) in new[] { (Partition.Validation, fractions.Validation), (Partition.Test, fractions.Test) })
        {
            if (fraction <= 0 || result.Values.Any(p => p == partition)) continue;
            var donor = trainByGroup.OrderByDescending(g => g.Count).First();
            if (donor.Count <= 1 || result.Values.Count(p => p == Partition.Train) <= 1) continue;
            var moved = donor[^1];
            donor.RemoveAt(donor.Count - 1);
            result[moved] = partition;
        }
        return result;
    }

    private static void Shuffle(List<string> items, SplitMix64 random)
    {
        for (var i = items.Count - 1; i > 0; i--)
        {
            var j = (int)(random.Next() % (ulong)(i + 1));
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>
    /// A fixed PRNG (SplitMix64) so that a seed gives the same split on every runtime version;
    /// System.Random's sequence is not a documented contract.
    /// </summary>
    private sealed class SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
