using System.Text.Json;
using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Storage;

namespace CremaD.BlobStaging;

/// <summary>
/// <c>_packs/index.json</c> of a packed dataset upload: the packs, and where each clip's bytes are in them.
/// </summary>
/// <param name="Upload">The folder under <c>_packs/</c> that holds this upload's packs.</param>
/// <param name="Packs">Pack file names under that folder and their lengths, by pack number.</param>
/// <param name="Files">Each packed file by its path relative to the dataset root ('/'-separated), in pack order.</param>
public sealed record DatasetPackIndex(int FormatVersion, string Upload, IReadOnlyList<DatasetPack> Packs, IReadOnlyList<PackedFile> Files)
{
    public const int CurrentFormatVersion = 1;
}

/// <param name="Length">The pack blob's length in bytes.</param>
public sealed record DatasetPack(int Number, long Length);

/// <param name="Path">The file's path relative to the dataset root, as in the unpacked folder.</param>
public sealed record PackedFile(string Path, int Pack, long Offset, int Length);

/// <summary>
/// Packed datasets: the clips of a dataset uploaded many to a blob, in the order the coordinator shards them, so that a
/// feature shard reads its clips in a few ranged requests instead of one request per clip. A storage service answers
/// thousands of small GETs a second, but each costs a round trip, and the storage emulator runs out of CPU at about a
/// hundred a second (benchmarks/CremaD.Benchmarks.Services/README.md). The dataset's other files (labels.csv,
/// VideoDemographics.csv, files the reader does not take as clips) stay blobs of their own.
/// </summary>
public static class DatasetPacks
{
    /// <summary>Clips per pack by default: the services' default shard size, so one shard reads one pack.</summary>
    public const int DefaultClipsPerPack = 256;

    /// <summary>A pack is closed at this size whatever its clip count, bounding the memory an upload holds.</summary>
    public const long MaxPackBytes = 64L * 1024 * 1024;

    /// <summary>The most bytes of index read back: about 100 bytes a clip, so room for a million clips.</summary>
    public const int MaxIndexBytes = 128 * 1024 * 1024;

    private static readonly JsonSerializerOptions Json = ServiceJson.Options;

    /// <summary>
    /// Uploads <paramref name="dataset"/>'s clips in packs of <paramref name="clipsPerPack"/> (in dataset order) under a
    /// new upload folder, every other file of <paramref name="localDirectory"/> as a blob of its own, then the index;
    /// then removes earlier uploads' packs. Returns the number of blobs written.
    /// </summary>
    public static async Task<int> UploadAsync(IBlobStore store, Dataset dataset, string localDirectory, string prefix, int clipsPerPack,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clipsPerPack, 1);
        var root = Path.GetFullPath(localDirectory);
        var clipPaths = dataset.Clips.Select(c => c.RelativePath.Replace('\\', '/')).ToList();
        var packed = clipPaths.ToHashSet(StringComparer.Ordinal);

        // Everything that is not a clip, loose: the reader needs the CSVs, and a rejected file stays inspectable.
        var loose = Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(path => (Path: path, Relative: Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/')))
            .Where(file => !packed.Contains(file.Relative))
            .Select(file => (file.Path, Key: BlobLayout.FileKey(prefix, file.Relative)))
            .ToList();
        foreach (var file in loose.Where(file => !BlobKey.IsValid(file.Key))) BlobKey.Validate(file.Key, $"file {file.Path}");

        var plan = PlanPacks(clipPaths, root, clipsPerPack);
        var upload = $"{DateTime.UtcNow:yyyyMMddTHHmmss}-{Guid.NewGuid():N}"[..24];
        var packs = new DatasetPack[plan.Count];
        var files = new List<PackedFile>(clipPaths.Count);
        await Parallel.ForEachAsync(loose,
            new ParallelOptions { MaxDegreeOfParallelism = BlobStoreExtensions.DefaultTransferParallelism, CancellationToken = cancellationToken },
            async (file, ct) => await store.UploadFileAsync(file.Key, file.Path, ct).ConfigureAwait(false)).ConfigureAwait(false);
        // Two packs in flight: each is held in memory while it uploads (at most MaxPackBytes).
        await Parallel.ForEachAsync(Enumerable.Range(0, plan.Count),
            new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellationToken },
            async (number, ct) =>
            {
                using var content = new MemoryStream();
                foreach (var relative in plan[number])
                {
                    var path = Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
                    await using var source = File.OpenRead(path);
                    await source.CopyToAsync(content, ct).ConfigureAwait(false);
                }
                content.Position = 0;
                await store.UploadAsync(BlobLayout.DatasetPackKey(prefix, upload, number), content, cancellationToken: ct).ConfigureAwait(false);
                packs[number] = new DatasetPack(number, content.Length);
            }).ConfigureAwait(false);
        for (var number = 0; number < plan.Count; number++)
        {
            long offset = 0;
            foreach (var relative in plan[number])
            {
                var length = (int)new FileInfo(Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar))).Length;
                files.Add(new PackedFile(relative, number, offset, length));
                offset += length;
            }
            if (offset != packs[number].Length)
            {
                throw new IOException($"A file of pack {number} of {root} changed while it was uploaded ({offset} bytes listed, {packs[number].Length} uploaded); upload again.");
            }
        }

        // Last: the index makes the new packs the dataset's; then the old ones can go.
        var indexKey = BlobLayout.DatasetPackIndexKey(prefix);
        await store.WriteJsonAsync(indexKey, new DatasetPackIndex(DatasetPackIndex.CurrentFormatVersion, upload, packs, files), Json,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        var current = BlobLayout.DatasetPacksPrefix(prefix) + upload + "/";
        await foreach (var blob in store.ListAsync(BlobLayout.DatasetPacksPrefix(prefix), cancellationToken).ConfigureAwait(false))
        {
            if (blob.Key != indexKey && !blob.Key.StartsWith(current, StringComparison.Ordinal))
            {
                await store.DeleteAsync(blob.Key, cancellationToken).ConfigureAwait(false);
            }
        }
        return loose.Count + plan.Count + 1;
    }

    /// <summary>Clips in order, cut into packs of at most <paramref name="clipsPerPack"/> clips and <see cref="MaxPackBytes"/>.</summary>
    private static List<List<string>> PlanPacks(IReadOnlyList<string> clipPaths, string root, int clipsPerPack)
    {
        var plan = new List<List<string>>();
        List<string>? current = null;
        long bytes = 0;
        foreach (var relative in clipPaths)
        {
            var length = new FileInfo(Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar))).Length;
            if (length > BlobRange.MaxLength)
            {
                throw new DatasetFormatException(Path.Combine(root, relative), null,
                    $"file too large for a clip ({length:N0} bytes, at most {BlobRange.MaxLength:N0})");
            }
            if (current is null || current.Count >= clipsPerPack || (current.Count > 0 && bytes + length > MaxPackBytes))
            {
                plan.Add(current = []);
                bytes = 0;
            }
            current.Add(relative);
            bytes += length;
        }
        return plan;
    }

    /// <summary>
    /// Where the clips of a packed dataset are, from its index and the listing of its blobs, keyed by path relative to
    /// the dataset root; empty when the dataset is not packed. The index comes from storage, so nothing in it is trusted:
    /// paths must be plain relative paths, packs must exist with the length the index gives, ranges must lie inside them.
    /// </summary>
    /// <exception cref="DatasetUnavailableException">The index is unreadable or inconsistent; the message names it and the reason.</exception>
    public static async Task<IReadOnlyDictionary<string, PackedClip>> ReadAsync(IBlobStore store, string prefix,
        IReadOnlyDictionary<string, BlobInfo> blobsByKey, CancellationToken cancellationToken = default)
    {
        var indexKey = BlobLayout.DatasetPackIndexKey(prefix);
        if (!blobsByKey.TryGetValue(indexKey, out var indexBlob)) return new Dictionary<string, PackedClip>();
        DatasetUnavailableException Bad(string reason) =>
            new($"Dataset '{prefix}' in {store.Location}: its pack index '{indexKey}' {reason}. Upload the dataset again.");
        if (indexBlob.Size > MaxIndexBytes) throw Bad($"is {indexBlob.Size:N0} bytes, more than the {MaxIndexBytes:N0} allowed");

        DatasetPackIndex? index;
        try
        {
            index = await store.ReadJsonAsync<DatasetPackIndex>(indexKey, Json, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw Bad($"is not valid JSON ({e.Message})");
        }
        if (index?.Packs is null || index.Files is null || index.Upload is null) throw Bad("is incomplete");
        if (index.FormatVersion != DatasetPackIndex.CurrentFormatVersion)
        {
            throw Bad($"has format version {index.FormatVersion}; this version reads {DatasetPackIndex.CurrentFormatVersion}");
        }

        var packs = new Dictionary<int, BlobInfo>();
        foreach (var pack in index.Packs)
        {
            if (pack is null) throw Bad("lists a pack as null");
            string key;
            try
            {
                key = BlobLayout.DatasetPackKey(prefix, index.Upload, pack.Number);
            }
            catch (ArgumentException e)
            {
                throw Bad($"names an invalid pack ({e.Message})");
            }
            if (!blobsByKey.TryGetValue(key, out var blob)) throw Bad($"lists '{key}', which does not exist");
            if (blob.Size != pack.Length) throw Bad($"gives '{key}' {pack.Length:N0} bytes, but it holds {blob.Size:N0}");
            packs[pack.Number] = blob;
        }

        var clips = new Dictionary<string, PackedClip>(StringComparer.Ordinal);
        foreach (var file in index.Files)
        {
            if (file?.Path is null) throw Bad("lists a file without a path");
            if (BlobLayout.FindPathProblem(file.Path, isPrefix: false) is { } problem) throw Bad($"has a bad path '{file.Path}' ({problem})");
            if (!BlobKey.IsValid(BlobLayout.FileKey(prefix, file.Path)) || file.Path.StartsWith(BlobLayout.DatasetPacksFolder + "/", StringComparison.Ordinal))
            {
                throw Bad($"has a bad path '{file.Path}'");
            }
            if (!packs.TryGetValue(file.Pack, out var pack)) throw Bad($"puts '{file.Path}' in pack {file.Pack}, which it does not list");
            if (file.Length is < 1 or > BlobRange.MaxLength || file.Offset < 0 || file.Offset + file.Length > pack.Size)
            {
                throw Bad($"gives '{file.Path}' the range {file.Offset}+{file.Length}, outside its pack of {pack.Size:N0} bytes");
            }
            if (!clips.TryAdd(file.Path, new PackedClip(new BlobRange(pack.Key, file.Offset, file.Length), pack.LastModified)))
            {
                throw Bad($"lists '{file.Path}' twice");
            }
        }
        return clips;
    }
}

/// <summary>Where a packed clip's bytes are, and when its pack was written (the clip's version, for the dataset fingerprint).</summary>
public sealed record PackedClip(BlobRange Range, DateTimeOffset PackLastModified);
