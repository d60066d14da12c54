using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using CremaD.Audio;
using CremaD.BlobStaging;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Storage;
using CremaD.Telemetry;

namespace CremaD.FeatureExtraction;

/// <summary>
/// Extracts one feature shard from blob storage into blob storage: downloads the clips' audio, runs the feature recipe
/// (<see cref="ClipFeatureExtractor"/>, the extractor of the local feature stage), writes the matrices as one blob and
/// the <see cref="FeatureShardManifest"/> after it, and summarises the train clips' per-band statistics with
/// <see cref="NormalisationAccumulator"/>. Outputs are keyed by the command alone, so processing a shard twice writes
/// the same bytes to the same keys.
/// </summary>
public sealed class FeatureShardProcessor(IBlobStore store)
{
    private const int Bands = FeatureRecipe.MelBands;
    private const int DownloadParallelism = 8;

    private static readonly Counter<long> ClipsExtracted = CremaDTelemetry.FeaturesMeter.CreateCounter<long>(
        "cremad.features.clips", "{clip}", "Clips a feature service processed (extracted or rejected).");
    private static readonly Histogram<double> ClipsPerSecond = CremaDTelemetry.FeaturesMeter.CreateHistogram<double>(
        "cremad.features.shard.clips_per_second", "{clip}/s", "Throughput of each feature shard.");

    /// <summary>Does the shard (or finds it done) and returns its result.</summary>
    /// <exception cref="InvalidMessageException">The command asks for another feature recipe than this service's.</exception>
    public async Task<FeatureShardManifest> ProcessAsync(ExtractFeatureShard command, CancellationToken cancellationToken = default)
    {
        command.ThrowIfInvalid();
        if (command.RecipeVersion != FeatureRecipe.Version)
        {
            throw new InvalidMessageException(nameof(ExtractFeatureShard), command.RunId,
                [$"recipeVersion is {command.RecipeVersion}, but this feature service makes recipe version {FeatureRecipe.Version} features."]);
        }
        using var activity = CremaDTelemetry.Features.StartRunActivity("feature shard", command.RunId);
        activity?.SetTag(CremaDTelemetry.ShardIndexTag, command.ShardIndex);
        activity?.SetTag("cremad.shard_count", command.ShardCount);
        activity?.SetTag("cremad.clips", command.Clips.Count);

        var manifestKey = BlobLayout.ShardManifestKey(command.OutputPrefix);
        var existing = await TryReadManifestAsync(manifestKey, cancellationToken).ConfigureAwait(false);
        if (existing is not null && existing.DatasetFingerprint == command.DatasetFingerprint
            && existing.Clips.Count + existing.RejectedClips.Count == command.Clips.Count)
        {
            activity?.SetTag("cremad.reused", true);
            return existing;
        }

        var clock = Stopwatch.StartNew();
        var audio = await DownloadAsync(command.Clips, cancellationToken).ConfigureAwait(false);

        var extractor = new ClipFeatureExtractor();
        var accumulator = new NormalisationAccumulator(Bands);
        var extracted = new List<ExtractedClip>();
        var sources = new List<ShardClipSource>();
        var rejected = new List<ClipRejection>();
        using var features = new MemoryStream();
        double audioSeconds = 0;
        for (var i = 0; i < command.Clips.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var clip = command.Clips[i];
            var (bytes, info) = audio[i];
            if (bytes is null || info is null)
            {
                rejected.Add(new ClipRejection(clip.Key, "audio file not found", RejectionStage.Audio));
                continue;
            }
            ClipFeatures clipFeatures;
            try
            {
                clipFeatures = extractor.FromBytes(bytes, clip.Key);
            }
            catch (AudioFormatException e)
            {
                rejected.Add(new ClipRejection(clip.Key, e.Reason, RejectionStage.Audio));
                continue;
            }
            if (clipFeatures.Frames <= 0)
            {
                rejected.Add(new ClipRejection(clip.Key, "no feature frames", RejectionStage.Audio));
                continue;
            }
            var data = clipFeatures.Data.AsSpan(0, clipFeatures.Frames * Bands);
            if (!AllFinite(data))
            {
                // The extractor guarantees finite output; this keeps a bug from poisoning the normalisation.
                rejected.Add(new ClipRejection(clip.Key, "features contain NaN or infinity", RejectionStage.Audio));
                continue;
            }
            if (clip.Partition == ClipPartition.Train) accumulator.AddClip(data, clipFeatures.Frames);
            var offset = features.Position;
            features.Write(MemoryMarshal.AsBytes(data)); // little-endian float32, as the local store's part files
            extracted.Add(new ExtractedClip(clip.Key, clip.Id, clip.Label, clip.Partition, clip.Actor, clipFeatures.Frames, offset,
                clipFeatures.DurationSeconds, clipFeatures.Warnings.ToArray()));
            sources.Add(new ShardClipSource(clipFeatures.SourceSampleRate, info.Size, info.LastModified));
            audioSeconds += clipFeatures.DurationSeconds;
        }

        var featuresKey = BlobLayout.ShardFeaturesKey(command.OutputPrefix);
        features.Position = 0;
        using (var upload = CremaDTelemetry.Features.StartRunActivity("blob upload", command.RunId))
        {
            upload?.SetTag("cremad.blob_key", featuresKey);
            upload?.SetTag("cremad.bytes", features.Length);
            await store.UploadAsync(featuresKey, features, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        var statistics = accumulator.Frames == 0
            ? BandMoments.Empty()
            : new BandMoments(accumulator.Frames, accumulator.Clips, accumulator.Mean.ToArray(), accumulator.M2.ToArray());
        var manifest = new FeatureShardManifest(FeatureRecipe.Version, command.DatasetFingerprint, command.ShardIndex, command.ShardCount,
            featuresKey, extracted, sources, rejected, statistics, audioSeconds, clock.Elapsed.TotalSeconds);
        // Last: its presence marks the shard complete.
        await store.WriteJsonAsync(manifestKey, manifest, ServiceJson.Options, cancellationToken: cancellationToken).ConfigureAwait(false);

        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        ClipsExtracted.Add(command.Clips.Count);
        ClipsPerSecond.Record(command.Clips.Count / seconds);
        activity?.SetTag("cremad.clips_extracted", extracted.Count);
        activity?.SetTag("cremad.clips_rejected", rejected.Count);
        activity?.SetTag("cremad.audio_seconds", audioSeconds);
        activity?.SetTag("cremad.clips_per_second", command.Clips.Count / seconds);
        return manifest;
    }

    /// <summary>The shard's result if a complete one is stored under <paramref name="manifestKey"/>.</summary>
    public async Task<FeatureShardManifest?> TryReadManifestAsync(string manifestKey, CancellationToken cancellationToken)
    {
        try
        {
            return await store.ReadJsonAsync<FeatureShardManifest>(manifestKey, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
    }

    private async Task<(byte[]? Bytes, BlobInfo? Info)[]> DownloadAsync(IReadOnlyList<ShardClip> clips, CancellationToken cancellationToken)
    {
        var results = new (byte[]?, BlobInfo?)[clips.Count];
        await Parallel.ForAsync(0, clips.Count,
            new ParallelOptions { MaxDegreeOfParallelism = DownloadParallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var info = await store.GetInfoAsync(clips[i].Key, ct).ConfigureAwait(false);
                if (info is null) return;
                try
                {
                    results[i] = (await store.ReadBytesAsync(clips[i].Key, ct).ConfigureAwait(false), info);
                }
                catch (BlobNotFoundException)
                {
                    // Deleted since it was listed: rejected as missing.
                }
            }).ConfigureAwait(false);
        return results;
    }

    private static bool AllFinite(ReadOnlySpan<float> data)
    {
        foreach (var value in data)
        {
            if (!float.IsFinite(value)) return false;
        }
        return true;
    }
}
