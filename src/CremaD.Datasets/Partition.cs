namespace CremaD.Datasets;

/// <summary>Where a clip is used. The names are those of the course layout's <c>partition</c> column.</summary>
public enum Partition
{
    Train,
    Validation,
    Test,
}

public static class PartitionNames
{
    public static string ToName(this Partition p) => p switch
    {
        Partition.Train => "train",
        Partition.Validation => "validation",
        Partition.Test => "test",
        _ => throw new ArgumentOutOfRangeException(nameof(p), p, null),
    };

    /// <summary>Parses a partition name; accepts the common aliases "val", "valid", "dev".</summary>
    public static bool TryParse(string text, out Partition partition)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "train": case "training": partition = Partition.Train; return true;
            case "validation": case "val": case "valid": case "dev": partition = Partition.Validation; return true;
            case "test": case "testing": partition = Partition.Test; return true;
            default: partition = default; return false;
        }
    }
}
