namespace CremaD.Learning;

/// <summary>How an epoch's clips are grouped into optimiser steps.</summary>
public static class Batching
{
    /// <summary>A uniformly random permutation of 0..<paramref name="count"/>-1 (Fisher–Yates).</summary>
    public static int[] Permutation(int count, Random random)
    {
        var order = new int[count];
        for (var i = 0; i < count; i++) order[i] = i;
        for (var i = count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>Random batches in the reference loop's order: consecutive slices of a random permutation.</summary>
    public static int[][] Random(int count, int batchSize, Random random) => Slice(Permutation(count, random), batchSize);

    /// <summary>
    /// Length-bucketed random batches: a random permutation is cut into pools of <paramref name="poolBatches"/>
    /// batches, each pool is sorted by length (stable, so equal lengths stay in random order) and sliced into
    /// batches, and the batch order is shuffled. Every clip is used once per epoch, batches differ between epochs,
    /// and the clips of a batch have similar lengths, so a packed batch has fewer time steps and keeps its full
    /// width for longer.
    /// </summary>
    public static int[][] LengthBucketed(IReadOnlyList<int> frames, int batchSize, int poolBatches, Random random)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be positive.");
        if (poolBatches < 1) throw new ArgumentOutOfRangeException(nameof(poolBatches), poolBatches, "Pool size must be positive.");
        var order = Permutation(frames.Count, random);
        var poolSize = batchSize * poolBatches;
        var batches = new List<int[]>((frames.Count + batchSize - 1) / batchSize);
        for (var start = 0; start < order.Length; start += poolSize)
        {
            var pool = order.AsSpan(start, Math.Min(poolSize, order.Length - start)).ToArray();
            var sorted = pool.OrderBy(index => frames[index]).ToArray();
            batches.AddRange(Slice(sorted, batchSize));
        }
        var shuffled = Permutation(batches.Count, random);
        return shuffled.Select(i => batches[i]).ToArray();
    }

    /// <summary>Fixed batches for evaluation: clips sorted by length, each batch at most <paramref name="maxClips"/> clips.</summary>
    public static int[][] ByLength(IReadOnlyList<int> frames, int maxClips)
    {
        var sorted = Enumerable.Range(0, frames.Count).OrderBy(i => frames[i]).ToArray();
        return Slice(sorted, maxClips);
    }

    /// <summary>
    /// Splits one batch (its clips' <paramref name="frames"/>) into at most <paramref name="shards"/> shards of similar
    /// cost for data-parallel training: clips are dealt longest first in a snake order (0, 1, …, n−1, n−1, …, 0, 0, …), so
    /// the shards' total and longest lengths are close. Returns positions in the batch, ascending within each shard;
    /// the split depends only on the lengths and the shard count.
    /// </summary>
    public static int[][] Shards(IReadOnlyList<int> frames, int shards)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (shards < 1) throw new ArgumentOutOfRangeException(nameof(shards), shards, "At least one shard is needed.");
        var count = Math.Min(shards, frames.Count);
        var members = Enumerable.Range(0, count).Select(_ => new List<int>()).ToArray();
        var longestFirst = Enumerable.Range(0, frames.Count).OrderByDescending(i => frames[i]).ThenBy(i => i).ToArray();
        for (var k = 0; k < longestFirst.Length; k++)
        {
            var round = k / count;
            var slot = k % count;
            members[round % 2 == 0 ? slot : count - 1 - slot].Add(longestFirst[k]);
        }
        return members.Select(m => m.Order().ToArray()).ToArray();
    }

    private static int[][] Slice(int[] order, int batchSize)
    {
        var batches = new int[(order.Length + batchSize - 1) / batchSize][];
        for (var b = 0; b < batches.Length; b++)
        {
            var start = b * batchSize;
            batches[b] = order[start..Math.Min(order.Length, start + batchSize)];
        }
        return batches;
    }
}
