namespace CremaD.Datasets;

/// <summary>One labelled clip of a dataset.</summary>
/// <param name="Id">Unique, file-system-safe name of the clip: the file name without extension
/// (or the relative path without extension when two clips share a file name).</param>
/// <param name="RelativePath">Path of the WAV file relative to the dataset root, with '/' separators.</param>
/// <param name="Label">Class id, an index into <see cref="Emotions.Codes"/>.</param>
/// <param name="Partition">Where the clip is used.</param>
/// <param name="Actor">Speaker id (e.g. "1001") when known.</param>
public sealed record ClipEntry(string Id, string RelativePath, int Label, Partition Partition, string? Actor);

/// <summary>How a dataset is laid out on disk.</summary>
public enum DatasetLayout
{
    /// <summary><c>labels.csv</c> with the columns <c>path,class,partition</c> (the course's layout).</summary>
    Course,

    /// <summary><c>AudioWAV/*.wav</c> with the label in the file name (the CREMA-D repository's layout), split by actor.</summary>
    Official,
}

/// <summary>A file that was left out of a dataset or of a feature store, and why.</summary>
/// <param name="Path">Path relative to the dataset root (with '/' separators).</param>
/// <param name="Reason">Why it was left out.</param>
public sealed record RejectedFile(string Path, string Reason);
