using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Numerics;
using System.Runtime.CompilerServices;
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
        // Sized up front: a growing stream would copy a shard's matrices (tens of MB) several times over.
        var featureBytes = outcomes.Sum(o => o.Features is { } f ? (long)f.Frames * Bands * sizeof(float) : 0);
        using var features = new MemoryStream(checked((int)featureBytes));
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
    /// Every clip of the shard downloaded and extracted, downloads overlapping extraction: up to
    /// <see cref="DownloadParallelism"/> reads in flight, at most one extraction per core. A loose clip is one GET; the
    /// clips of a packed dataset are read a run of neighbours at a time (<see cref="ReadUnits"/>). Holds features, not
    /// audio: a read's bytes are dropped once its clips are extracted.
    /// </summary>
    private async Task<ClipOutcome[]> ExtractAllAsync(IReadOnlyList<ShardClip> clips, CancellationToken cancellationToken)
    {
        var outcomes = new ClipOutcome[clips.Count];
        var extractors = new ConcurrentBag<ClipFeatureExtractor>(); // not thread-safe: one per concurrent extraction
        using var cores = new SemaphoreSlim(Environment.ProcessorCount);
        await Parallel.ForEachAsync(ReadUnits(clips),
            new ParallelOptions { MaxDegreeOfParallelism = DownloadParallelism, CancellationToken = cancellationToken },
            async (unit, ct) =>
            {
                var first = clips[unit[0]];
                var blob = first.Packed is { } range
                    ? await store.TryReadRangeAsync(range.Key, range.Offset, (int)(clips[unit[^1]].Packed!.End - range.Offset), ct).ConfigureAwait(false)
                    : await store.TryReadAllAsync(first.Key, ct).ConfigureAwait(false);
                foreach (var i in unit)
                {
                    var clip = clips[i];
                    if (!TrySlice(blob, clip, first.Packed?.Offset ?? 0, out var bytes, out var info, out var missing))
                    {
                        outcomes[i] = ClipOutcome.Rejected(missing);
                        continue;
                    }
                    await cores.WaitAsync(ct).ConfigureAwait(false);
                    var extractor = extractors.TryTake(out var pooled) ? pooled : new ClipFeatureExtractor();
                    try
                    {
                        outcomes[i] = Extract(extractor, bytes, info, clip.Key);
                    }
                    finally
                    {
                        extractors.Add(extractor);
                        cores.Release();
                    }
                }
            }).ConfigureAwait(false);
        return outcomes;
    }

    /// <summary>Most clips, and bytes, one read of a pack takes: small enough that reads overlap extraction.</summary>
    private const int ClipsPerRead = 32;
    private const int BytesPerRead = 8 * 1024 * 1024;

    /// <summary>
    /// The shard's clips grouped into reads: each loose clip alone; packed clips that lie back to back in one pack (as
    /// an upload writes them, in shard order) together, up to <see cref="ClipsPerRead"/> clips and
    /// <see cref="BytesPerRead"/> bytes.
    /// </summary>
    private static IEnumerable<int[]> ReadUnits(IReadOnlyList<ShardClip> clips)
    {
        var unit = new List<int>();
        BlobRange? start = null;
        long end = 0;
        for (var i = 0; i < clips.Count; i++)
        {
            var range = clips[i].Packed;
            var joins = range is not null && start is not null && range.Key == start.Key && range.Offset == end
                        && unit.Count < ClipsPerRead && range.End - start.Offset <= BytesPerRead;
            if (!joins && unit.Count > 0)
            {
                yield return [.. unit];
                unit.Clear();
            }
            if (!joins) start = range;
            unit.Add(i);
            end = range?.End ?? 0;
            if (range is null)
            {
                yield return [.. unit];
                unit.Clear();
                start = null;
            }
        }
        if (unit.Count > 0) yield return [.. unit];
    }

    /// <summary>A clip's bytes out of what its read returned, or why there are none.</summary>
    private static bool TrySlice(BlobContent? blob, ShardClip clip, long readOffset, out ReadOnlyMemory<byte> bytes, out BlobInfo info,
        out string missing)
    {
        bytes = default;
        info = null!;
        missing = "";
        if (blob is null)
        {
            missing = clip.Packed is null ? "audio file not found" : $"audio pack '{clip.Packed.Key}' not found";
            return false;
        }
        if (clip.Packed is not { } range)
        {
            (bytes, info) = (blob.Content, blob.Info);
            return true;
        }
        var start = range.Offset - readOffset;
        if (start + range.Length > blob.Content.Length)
        {
            missing = $"audio pack '{range.Key}' ends before the clip's bytes {range.Offset}+{range.Length} (it holds {blob.Info.Size:N0} bytes)";
            return false;
        }
        bytes = blob.Content.Slice((int)start, range.Length);
        // The clip's version is its pack's (as the dataset listing stamps it); its size is its own.
        info = blob.Info with { Size = range.Length };
        return true;
    }

    private static ClipOutcome Extract(ClipFeatureExtractor extractor, ReadOnlyMemory<byte> bytes, BlobInfo info, string key)
    {
        ClipFeatures features;
        try
        {
            features = extractor.FromBytes(bytes.Span, key);
        }
        catch (AudioFormatException e)
        {
            return ClipOutcome.Rejected(e.Reason);
        }
        if (features.Frames <= 0) return ClipOutcome.Rejected("no feature frames");
        // The extractor guarantees finite output; this keeps a bug from poisoning the normalisation.
        if (!AllFinite(features.Data.AsSpan(0, features.Frames * Bands))) return ClipOutcome.Rejected("features contain NaN or infinity");
        return new ClipOutcome(features, info, null);
    }

    /// <summary>A clip's features and the version of the blob they came from, or why it was rejected.</summary>
    private readonly record struct ClipOutcome(ClipFeatures? Features, BlobInfo? Info, string? Rejection)
    {
        public static ClipOutcome Rejected(string reason) => new(null, null, reason);
    }

    /// <summary>No NaN and no infinity: x - x is 0 for every finite x and NaN otherwise, a whole vector at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool AllFinite(ReadOnlySpan<float> data)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(data);
        foreach (var v in vectors)
        {
            if (!Vector.EqualsAll(v - v, Vector<float>.Zero)) return false;
        }
        foreach (var value in data[(vectors.Length * Vector<float>.Count)..])
        {
            if (!float.IsFinite(value)) return false;
        }
        return true;
    }
}
