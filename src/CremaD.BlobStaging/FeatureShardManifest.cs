using CremaD.Contracts;

namespace CremaD.BlobStaging;

/// <summary>
/// <c>&lt;shard prefix&gt;shard.json</c> (<see cref="BlobLayout.ShardManifestKey"/>): the result of one shard, written after its feature blob, so its presence
/// means the shard is complete. A redelivered command (or another run over the same data) that finds it publishes
/// it again instead of extracting again.
/// </summary>
/// <param name="FeaturesKey">The shard's feature blob (<see cref="BlobLayout.ShardFeaturesKey"/>): float32 matrices back to back, in <paramref name="Clips"/> order.</param>
/// <param name="Sources">Parallel to <paramref name="Clips"/>.</param>
public sealed record FeatureShardManifest(
    int RecipeVersion,
    string DatasetFingerprint,
    int ShardIndex,
    int ShardCount,
    string FeaturesKey,
    IReadOnlyList<ExtractedClip> Clips,
    IReadOnlyList<ShardClipSource> Sources,
    IReadOnlyList<ClipRejection> RejectedClips,
    BandMoments TrainStatistics,
    double AudioSeconds,
    double Seconds)
{
    public FeatureShardExtracted ToEvent(Guid runId, DateTimeOffset timestamp) =>
        new(runId, ShardIndex, ShardCount, FeaturesKey, Clips, RejectedClips, TrainStatistics, AudioSeconds, Seconds, timestamp);
}
