using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CremaD.Audio;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Storage;

namespace CremaD.BlobStaging;

/// <summary>
/// A feature store in blob storage (<see cref="BlobLayout.FeatureStorePrefix"/>): shards written by the feature service,
/// completed by the coordinator into the files of a local store, and staged back into a local folder by the services
/// that train and evaluate.
/// </summary>
public static class BlobFeatureStore
{
    /// <summary>Written last when a store is completed: its presence means the store can be reused by any run.</summary>
    private static string MetadataKey(string prefix) => BlobLayout.FileKey(prefix, FeatureStoreFiles.Metadata);

    /// <summary>The normalisation file of the feature store under <paramref name="prefix"/>.</summary>
    public static string NormalisationKey(string prefix) => BlobLayout.FileKey(prefix, FeatureStoreFiles.Normalisation);

    /// <summary>True when the store under <paramref name="prefix"/> was completed.</summary>
    public static Task<bool> IsCompleteAsync(IBlobStore store, string prefix, CancellationToken cancellationToken = default) =>
        store.ExistsAsync(MetadataKey(prefix), cancellationToken);

    /// <summary>Reads the metadata of a completed store.</summary>
    public static async Task<CompletedFeatureStore> ReadCompletedAsync(IBlobStore store, string prefix, CancellationToken cancellationToken = default)
    {
        var metadata = await ReadAsync<FeatureStoreMetadata>(store, MetadataKey(prefix), cancellationToken).ConfigureAwait(false);
        var rejected = await ReadAsync<RejectedFileList>(store, BlobLayout.FileKey(prefix, FeatureStoreFiles.Rejected), cancellationToken).ConfigureAwait(false);
        var normalisation = await ReadAsync<NormalisationFile>(store, NormalisationKey(prefix), cancellationToken).ConfigureAwait(false);
        int Count(Partition p) => metadata.ClipsPerPartition.GetValueOrDefault(p.ToName());
        return new CompletedFeatureStore(prefix, NormalisationKey(prefix), metadata, Count(Partition.Train), Count(Partition.Validation),
            Count(Partition.Test), normalisation.Frames, rejected.Clips.Select(ToRejection).ToList());
    }

    /// <summary>
    /// Completes the store from the <paramref name="shardCount"/> shards of <paramref name="shardSize"/> clips a run
    /// planned: merges their train statistics in shard order into the normalisation (the same float64 reduction as the
    /// local stage), writes index.json, normalisation.json, rejected.json, parts.json and, last, metadata.json.
    /// Once: completions are serialised by a lease on <see cref="BlobLayout.FeatureStoreCompletionLeaseKey"/>, and a
    /// store found complete under it is returned as it is, so a run with another plan finishing at the same time
    /// never rewrites a store that trainers may be staging. Every shard manifest is checked against the plan.
    /// </summary>
    /// <exception cref="InvalidDataException">A shard is missing or does not belong to the plan, or no train clip could be extracted; the message says which.</exception>
    public static async Task<CompletedFeatureStore> CompleteAsync(IBlobStore store, string prefix, int shardCount, int shardSize,
        CancellationToken cancellationToken = default)
    {
        await using var completion = await AcquireCompletionLeaseAsync(store, prefix, cancellationToken).ConfigureAwait(false);
        if (await IsCompleteAsync(store, prefix, cancellationToken).ConfigureAwait(false))
        {
            return await ReadCompletedAsync(store, prefix, cancellationToken).ConfigureAwait(false);
        }
        var completed = await WriteCompletionAsync(store, prefix, shardCount, shardSize, cancellationToken).ConfigureAwait(false);
        await completion.ReleaseAsync(cancellationToken).ConfigureAwait(false);
        return completed;
    }

    private static readonly TimeSpan CompletionLeaseDuration = BlobLeaseDuration.Maximum;

    /// <summary>Waits for the completion lease; another completer holds it for seconds at most (or it expires).</summary>
    private static async Task<IBlobLease> AcquireCompletionLeaseAsync(IBlobStore store, string prefix, CancellationToken cancellationToken)
    {
        var key = BlobLayout.FeatureStoreCompletionLeaseKey(prefix);
        var deadline = DateTimeOffset.UtcNow + CompletionLeaseDuration * 2;
        while (true)
        {
            try
            {
                return await store.AcquireLeaseAsync(key, CompletionLeaseDuration, cancellationToken).ConfigureAwait(false);
            }
            catch (BlobLeaseConflictException) when (DateTimeOffset.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<CompletedFeatureStore> WriteCompletionAsync(IBlobStore store, string prefix, int shardCount, int shardSize,
        CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        var dataset = await store.ReadJsonAsync<BlobDatasetDescription>(BlobLayout.FeatureStoreDatasetKey(prefix), ServiceJson.Options, cancellationToken)
            .ConfigureAwait(false);
        var manifests = new FeatureShardManifest[shardCount];
        await Parallel.ForAsync(0, shardCount, cancellationToken, async (i, ct) =>
        {
            var key = BlobLayout.ShardManifestKey(BlobLayout.ShardPrefix(prefix, i, shardCount, shardSize));
            FeatureShardManifest manifest;
            try
            {
                manifest = await store.ReadJsonAsync<FeatureShardManifest>(key, ServiceJson.Options, ct).ConfigureAwait(false);
            }
            catch (BlobNotFoundException e)
            {
                throw new InvalidDataException($"Feature shard {i} of {shardCount} is missing: no '{key}' in {store.Location}.", e);
            }
            // Every shard but the last holds the shard size; the last the rest.
            var clips = manifest.Clips.Count + manifest.RejectedClips.Count;
            var planned = i < shardCount - 1 ? clips == shardSize : clips is > 0 && clips <= shardSize;
            if (manifest.ShardIndex != i || manifest.ShardCount != shardCount || manifest.DatasetFingerprint != dataset.Fingerprint
                || manifest.RecipeVersion != FeatureRecipe.Version || !planned)
            {
                throw new InvalidDataException(
                    $"Feature shard '{key}' in {store.Location} is not shard {i} of this plan ({shardCount} shards of {shardSize} clips, dataset " +
                    $"{dataset.Fingerprint}, recipe {FeatureRecipe.Version}): it says shard {manifest.ShardIndex} of {manifest.ShardCount}, " +
                    $"{clips} clips, dataset {manifest.DatasetFingerprint}, recipe {manifest.RecipeVersion}.");
            }
            manifests[i] = manifest;
        }).ConfigureAwait(false);

        var normaliser = new NormalisationAccumulator(FeatureRecipe.MelBands);
        var entries = new List<FeatureStoreEntry>();
        var parts = new Dictionary<string, string>(StringComparer.Ordinal);
        var rejected = new List<ClipRejection>(dataset.Rejected);
        var trainText = new StringBuilder($"cremad-train-v{FeatureStoreFiles.FormatVersion}-recipe{FeatureRecipe.Version}\n");
        foreach (var manifest in manifests)
        {
            var stats = manifest.TrainStatistics;
            normaliser.Merge(stats.Frames, stats.Clips, stats.Mean, stats.M2);
            var part = FeatureStoreFiles.PartFile(manifest.ShardIndex);
            parts[part] = manifest.FeaturesKey;
            for (var c = 0; c < manifest.Clips.Count; c++)
            {
                var clip = manifest.Clips[c];
                var source = manifest.Sources[c];
                var partition = clip.Partition.ToDataset();
                var path = dataset.RelativePath(clip.Key);
                entries.Add(new FeatureStoreEntry(clip.Id, path, clip.Label, partition, clip.Actor, clip.Frames, clip.DurationSeconds,
                    source.SourceSampleRate, source.SourceSize, source.SourceLastModified.UtcDateTime, part, clip.Offset, clip.Warnings));
                if (partition == Partition.Train)
                {
                    trainText.Append(path).Append('\t').Append(source.SourceSize.ToString(CultureInfo.InvariantCulture)).Append('\t')
                        .Append(source.SourceLastModified.UtcTicks.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }
            }
            rejected.AddRange(manifest.RejectedClips);
        }
        if (normaliser.Frames == 0)
        {
            throw new InvalidDataException(
                $"No train clip of dataset '{dataset.Prefix}' could be extracted ({entries.Count} clips extracted, {rejected.Count} rejected): there is nothing to normalise or train on.");
        }

        var normalisation = normaliser.ToNormalisation();
        var normalisationFile = new NormalisationFile(normalisation.Mean, normalisation.Std, normalisation.Frames, normaliser.Clips, 1,
            FeatureRecipe.Version, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(trainText.ToString()))));
        var rejectedFiles = rejected.Select(r => new RejectedClip(dataset.RelativePath(r.Key), r.Reason, r.Stage == RejectionStage.Audio ? "audio" : "dataset"))
            .ToList();
        var metadata = BuildMetadata(entries, rejected.Count, dataset, started, manifests);

        await WriteAsync(store, BlobLayout.FileKey(prefix, FeatureStoreFiles.Index),
            new FeatureStoreIndex(FeatureStoreFiles.FormatVersion, FeatureRecipe.Version, FeatureRecipe.MelBands, FeatureStage.ToolVersion, entries),
            cancellationToken).ConfigureAwait(false);
        await WriteAsync(store, NormalisationKey(prefix), normalisationFile, cancellationToken).ConfigureAwait(false);
        await WriteAsync(store, BlobLayout.FileKey(prefix, FeatureStoreFiles.Rejected),
            new RejectedFileList(FeatureStage.ToolVersion, rejectedFiles.Count, rejectedFiles), cancellationToken).ConfigureAwait(false);
        await store.WriteJsonAsync(BlobLayout.FeatureStorePartsKey(prefix), new FeatureStoreParts(shardCount, parts), ServiceJson.Options,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        await WriteAsync(store, MetadataKey(prefix), metadata, cancellationToken).ConfigureAwait(false);

        int Count(Partition p) => entries.Count(e => e.Partition == p);
        return new CompletedFeatureStore(prefix, NormalisationKey(prefix), metadata, Count(Partition.Train), Count(Partition.Validation),
            Count(Partition.Test), normalisation.Frames, rejected);
    }

    /// <summary>
    /// Copies a completed store into <paramref name="localDirectory"/> as a local feature store and opens it. The copy is
    /// made beside the target and renamed into place, so a folder that exists is complete and is reused as it is.
    /// </summary>
    public static async Task<FeatureStore> StageAsync(IBlobStore store, string prefix, string localDirectory,
        CancellationToken cancellationToken = default)
    {
        localDirectory = Path.GetFullPath(localDirectory);
        if (FeatureStore.IsComplete(localDirectory)) return FeatureStore.Open(localDirectory);
        if (!await IsCompleteAsync(store, prefix, cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidDataException($"Feature store '{prefix}' in {store.Location} is not complete (no {FeatureStoreFiles.Metadata}).");
        }
        var partial = $"{localDirectory}.{Guid.NewGuid():N}.partial";
        try
        {
            var parts = await store.ReadJsonAsync<FeatureStoreParts>(BlobLayout.FeatureStorePartsKey(prefix), ServiceJson.Options, cancellationToken)
                .ConfigureAwait(false);
            CheckParts(parts, prefix, store.Location);
            List<(string Key, string Path)> files =
            [
                .. new[] { FeatureStoreFiles.Index, FeatureStoreFiles.Normalisation, FeatureStoreFiles.Rejected, FeatureStoreFiles.Metadata }
                    .Select(file => (BlobLayout.FileKey(prefix, file), file)),
                .. parts.Parts.Select(p => (p.Value, p.Key)),
            ];
            await Parallel.ForEachAsync(files,
                new ParallelOptions { MaxDegreeOfParallelism = BlobStoreExtensions.DefaultTransferParallelism, CancellationToken = cancellationToken },
                async (file, ct) =>
                {
                    try
                    {
                        await store.DownloadToFileAsync(file.Key, Path.Combine(partial, file.Path.Replace('/', Path.DirectorySeparatorChar)), ct)
                            .ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException && e is not BlobStoreException)
                    {
                        // Name the blob: transport errors (HTTP status, I/O) do not.
                        throw new BlobStoreException(file.Key, $"Downloading blob '{file.Key}' from {store.Location} failed: {e.Message}", e);
                    }
                }).ConfigureAwait(false);
            Directory.CreateDirectory(Path.GetDirectoryName(localDirectory)!);
            try
            {
                Directory.Move(partial, localDirectory);
            }
            catch (IOException) when (FeatureStore.IsComplete(localDirectory))
            {
                // Another job staged the same store meanwhile; theirs is as good as ours.
            }
        }
        finally
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        }
        return FeatureStore.Open(localDirectory);
    }

    /// <summary>
    /// parts.json comes from storage and its names become local paths: each must be a part file name
    /// (<c>features/part-NNNNNN.f32</c>, nothing that climbs out of the folder) and each blob one of this store's (its shards').
    /// </summary>
    /// <exception cref="InvalidDataException">An entry is neither; the message names it.</exception>
    private static void CheckParts(FeatureStoreParts parts, string prefix, string location)
    {
        foreach (var (name, key) in parts.Parts ?? new Dictionary<string, string>())
        {
            var number = FeatureStoreFiles.PartNumber(name ?? "");
            if (number < 0 || name != FeatureStoreFiles.PartFile(number))
            {
                throw new InvalidDataException($"'{BlobLayout.FeatureStorePartsKey(prefix)}' in {location} names '{name}', which is not a part file of a feature store.");
            }
            if (key is null || !key.StartsWith(prefix, StringComparison.Ordinal) || BlobLayout.FindPathProblem(key, isPrefix: false) is not null)
            {
                throw new InvalidDataException($"'{BlobLayout.FeatureStorePartsKey(prefix)}' in {location} maps '{name}' to '{key}', which is not a blob of the store '{prefix}'.");
            }
        }
    }

    /// <summary>
    /// <see cref="StageAsync"/> into the service's work folder, <c>&lt;work&gt;/features/&lt;a name unique per prefix&gt;</c>:
    /// every job of the process that needs the store shares the one staged copy.
    /// </summary>
    public static Task<FeatureStore> StageIntoWorkAsync(IBlobStore store, string prefix, string workDirectory,
        CancellationToken cancellationToken = default) =>
        StageAsync(store, prefix, Path.Combine(workDirectory, "features", LocalFolderName(prefix)), cancellationToken);

    /// <summary>A folder name for a store prefix, unique per prefix.</summary>
    private static string LocalFolderName(string prefix) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(prefix)))[..24];

    private static FeatureStoreMetadata BuildMetadata(List<FeatureStoreEntry> accepted, int rejected, BlobDatasetDescription dataset,
        DateTime started, FeatureShardManifest[] manifests)
    {
        var seconds = manifests.Sum(m => m.Seconds);
        var decoded = manifests.Sum(m => m.Clips.Count + m.RejectedClips.Count);
        var run = new FeatureRunSummary(started, manifests.Length, accepted.Count, 0, rejected, 0, true, seconds,
            seconds > 0 ? decoded / seconds : 0, new FeatureStageTimings(0, seconds, 0, 0, 0, 0, 0, 0));
        return FeatureStoreMetadata.Describe(accepted, rejected, dataset.Location, dataset.Layout, dataset.LabelsKey, dataset.SplitSeed,
            dataset.DemographicsKey, dataset.Fingerprint, run, dataset.LabelsFrom);
    }

    private static ClipRejection ToRejection(RejectedClip clip) =>
        new(clip.Path, clip.Reason, clip.Stage == "audio" ? RejectionStage.Audio : RejectionStage.Dataset);

    private static Task WriteAsync<T>(IBlobStore store, string key, T value, CancellationToken cancellationToken) =>
        store.WriteBytesAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, FeatureStoreFiles.Json), cancellationToken: cancellationToken);

    private static async Task<T> ReadAsync<T>(IBlobStore store, string key, CancellationToken cancellationToken) =>
        await store.ReadJsonAsync<T>(key, FeatureStoreFiles.Json, cancellationToken).ConfigureAwait(false);
}
