using CremaD.Datasets;

namespace CremaD.BlobStaging;

/// <summary>
/// <c>&lt;store&gt;parts.json</c> (<see cref="BlobLayout.FeatureStorePartsKey"/>): which shard blob holds each part file of the store's index. The store's index.json,
/// normalisation.json, metadata.json and rejected.json are those of a local feature store (CremaD.Datasets.FeatureStoreFiles),
/// with part file N being shard N's feature blob, so a staged copy opens with <see cref="FeatureStore.Open"/>.
/// </summary>
/// <param name="Parts">Local part path (features/part-NNNNNN.f32) → blob key.</param>
public sealed record FeatureStoreParts(int ShardCount, IReadOnlyDictionary<string, string> Parts);
