using CremaD.Contracts;
using CremaD.Datasets;

namespace CremaD.BlobStaging;

/// <summary>What <see cref="BlobFeatureStore.CompleteAsync"/> wrote.</summary>
public sealed record CompletedFeatureStore(string Prefix, string NormalisationKey, FeatureStoreMetadata Metadata, int TrainClips,
    int ValidationClips, int TestClips, long TrainFrames, IReadOnlyList<ClipRejection> Rejected);
