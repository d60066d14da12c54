using CremaD.Contracts;
using CremaD.Datasets;

namespace CremaD.BlobStaging;

/// <summary>A dataset read from blob storage, ready to be planned into shards.</summary>
/// <param name="Dataset">The dataset as <see cref="DatasetReader"/> read it (its root is a local skeleton folder, not audio).</param>
/// <param name="Fingerprint">CremaD.Datasets.DatasetFingerprint over the blobs' sizes and last-modified times.</param>
/// <param name="Rejected">Files the dataset description left out (official layout: names outside the CREMA-D scheme).</param>
public sealed record BlobDatasetListing(DatasetRef Reference, Dataset Dataset, IReadOnlyList<BlobClip> Clips, string Fingerprint,
    IReadOnlyList<ClipRejection> Rejected);
