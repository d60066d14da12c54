using CremaD.Contracts;
using CremaD.Datasets;

namespace CremaD.BlobStaging;

/// <summary>A clip of a dataset in blob storage: its entry, its blob key and the stamp (size, last write) that fingerprints it.</summary>
/// <param name="Key">The clip's key as if stored loose (<c>&lt;dataset prefix&gt;&lt;relative path&gt;</c>): how it is named everywhere.</param>
/// <param name="Packed">Where its bytes are when the dataset was uploaded packed; null when they are the blob <paramref name="Key"/>.</param>
public sealed record BlobClip(ClipEntry Entry, string Key, SourceStamp Stamp, BlobRange? Packed = null);
