namespace CremaD.Learning;

/// <summary>
/// Derives every random stream of a run from the run's seed, so runs are reproducible and a resumed run continues
/// exactly as an uninterrupted one: each epoch reseeds LibTorch (dropout) and a host generator (batch order,
/// SpecAugment) from (seed, epoch), so no generator state has to survive a restart.
/// </summary>
public static class Seeds
{
    /// <summary>Seed for weight initialisation.</summary>
    public static long Initialisation(int seed) => Mix(seed, 0, 0x1417);

    /// <summary>Seed for LibTorch's generator during <paramref name="epoch"/> (1-based).</summary>
    public static long Torch(int seed, int epoch) => Mix(seed, epoch, 0x7047);

    /// <summary>Seed for the host generator during <paramref name="epoch"/> (1-based).</summary>
    public static int Host(int seed, int epoch) => (int)(Mix(seed, epoch, 0x4057) & int.MaxValue);

    /// <summary>
    /// Seed for the dropout generator of data-parallel shard <paramref name="shard"/> (0-based) during
    /// <paramref name="epoch"/>; a single-shard run draws its dropout from LibTorch's generator (<see cref="Torch"/>).
    /// </summary>
    public static long Dropout(int seed, int epoch, int shard) => Mix(seed, epoch, 0xD000 + shard);

    /// <summary>
    /// Seed for the generator of <paramref name="direction"/>'s half of the inter-layer dropout masks (0 forward,
    /// 1 backward) of shard <paramref name="shard"/> during <paramref name="epoch"/>, when the directions run on two threads.
    /// </summary>
    public static long DirectionDropout(int seed, int epoch, int shard, int direction) => Mix(seed, epoch, 0xD100 + 2 * shard + direction);

    /// <summary>SplitMix64 finaliser over the three inputs; non-negative so every LibTorch build accepts it.</summary>
    private static long Mix(int seed, int epoch, int stream)
    {
        var z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)epoch << 32 ^ (ulong)(uint)stream);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (long)(z & long.MaxValue);
    }
}
