namespace CremaD.Datasets;

/// <summary>How <see cref="DatasetReader.Open"/> reads a data root.</summary>
public sealed record DatasetOptions
{
    public static DatasetOptions Default { get; } = new();

    /// <summary>Force a layout; null detects it (labels.csv → course, AudioWAV/ → official).</summary>
    public DatasetLayout? Layout { get; init; }

    /// <summary>Course layout: a labels file other than <c>&lt;root&gt;/labels.csv</c>. Its paths are relative to its own folder.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>Official layout: <c>VideoDemographics.csv</c> if not beside <c>AudioWAV/</c>.</summary>
    public string? DemographicsPath { get; init; }

    /// <summary>Label each clip with its acted emotion (default) or with CREMA-D's perceived one (<see cref="PerceivedEmotions"/>).</summary>
    public LabelSource LabelsFrom { get; init; } = LabelSource.Acted;

    /// <summary>Replace the layout's partitions by this cross-validation fold's (<see cref="ActorFolds.Apply"/>); null: keep them.</summary>
    public FoldSplit? Fold { get; init; }

    /// <summary>Official layout: seed of the actor split.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Where the files are: a folder on disk by default; a listing for a dataset in blob storage.</summary>
    public IDatasetFiles Files { get; init; } = LocalDatasetFiles.Instance;

    /// <summary>Official layout: shares of actors per partition.</summary>
    public SplitFractions Fractions { get; init; } = SplitFractions.Default;
}
