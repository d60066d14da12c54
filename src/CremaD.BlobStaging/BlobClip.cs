using CremaD.Datasets;

namespace CremaD.BlobStaging;

/// <summary>A clip of a dataset in blob storage: its entry, its blob key and the stamp (size, last write) that fingerprints it.</summary>
public sealed record BlobClip(ClipEntry Entry, string Key, SourceStamp Stamp);
