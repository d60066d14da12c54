using System.Collections.Concurrent;
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
        var outcomes = await ExtractAllAsync(command.Clips, cancellationToken).ConfigureAwait(false);

        var accumulator = new NormalisationAccumulator(Bands);
        var extracted = new List<ExtractedClip>();
        var sources = new List<ShardClipSource>();
        var rejected = new List<ClipRejection>();
        using var features = new MemoryStream();
        double audioSeconds = 0;
        // In the command's order, whatever order the clips finished in: the shard's bytes depend on the command alone.
        for (var i = 0; i < command.Clips.Count; i++)
        {
            var clip = command.Clips[i];
            var (clipFeatures, info, rejection) = outcomes[i];
            if (rejection is not null)
            {
                rejected.Add(new ClipRejection(clip.Key, rejection, RejectionStage.Audio));
                continue;
            }
            var data = clipFeatures!.Data.AsSpan(0, clipFeatures.Frames * Bands);
            if (clip.Partition == ClipPartition.Train) accumulator.AddClip(data, clipFeatures.Frames);
            var offset = features.Position;
            features.Write(MemoryMarshal.AsBytes(data)); // little-endian float32, as the local store's part files
            extracted.Add(new ExtractedClip(clip.Key, clip.Id, clip.Label, clip.Partition, clip.Actor, clipFeatures.Frames, offset,
                clipFeatures.DurationSeconds, clipFeatures.Warnings.ToArray()));
            sources.Add(new ShardClipSource(clipFeatures.SourceSampleRate, info!.Size, info.LastModified));
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

    /// <summary>
    /// Every clip of the shard downloaded (one GET each) and extracted, downloads overlapping extraction: up to
    /// <see cref="DownloadParallelism"/> clips in flight, at most one extraction per core. Holds features, not audio:
    /// a clip's bytes are dropped once it is extracted.
    /// </summary>
    private async Task<ClipOutcome[]> ExtractAllAsync(IReadOnlyList<ShardClip> clips, CancellationToken cancellationToken)
    {
        var outcomes = new ClipOutcome[clips.Count];
        var extractors = new ConcurrentBag<ClipFeatureExtractor>(); // not thread-safe: one per concurrent extraction
        using var cores = new SemaphoreSlim(Environment.ProcessorCount);
        await Parallel.ForAsync(0, clips.Count,
            new ParallelOptions { MaxDegreeOfParallelism = DownloadParallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var blob = await store.TryReadAllAsync(clips[i].Key, ct).ConfigureAwait(false);
                if (blob is null)
                {
                    outcomes[i] = ClipOutcome.Rejected("audio file not found");
                    return;
                }
                await cores.WaitAsync(ct).ConfigureAwait(false);
                var extractor = extractors.TryTake(out var pooled) ? pooled : new ClipFeatureExtractor();
                try
                {
                    outcomes[i] = Extract(extractor, blob, clips[i].Key);
                }
                finally
                {
                    extractors.Add(extractor);
                    cores.Release();
                }
            }).ConfigureAwait(false);
        return outcomes;
    }

    private static ClipOutcome Extract(ClipFeatureExtractor extractor, BlobContent blob, string key)
    {
        ClipFeatures features;
        try
        {
            features = extractor.FromBytes(blob.Content.Span, key);
        }
        catch (AudioFormatException e)
        {
            return ClipOutcome.Rejected(e.Reason);
        }
        if (features.Frames <= 0) return ClipOutcome.Rejected("no feature frames");
        // The extractor guarantees finite output; this keeps a bug from poisoning the normalisation.
        if (!AllFinite(features.Data.AsSpan(0, features.Frames * Bands))) return ClipOutcome.Rejected("features contain NaN or infinity");
        return new ClipOutcome(features, blob.Info, null);
    }

    /// <summary>A clip's features and the version of the blob they came from, or why it was rejected.</summary>
    private readonly record struct ClipOutcome(ClipFeatures? Features, BlobInfo? Info, string? Rejection)
    {
        public static ClipOutcome Rejected(string reason) => new(null, null, reason);
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
