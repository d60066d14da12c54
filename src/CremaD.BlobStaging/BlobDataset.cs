using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Storage;

namespace CremaD.BlobStaging;

/// <summary>
/// Reads a dataset stored under a blob prefix with the same <see cref="DatasetReader"/> the CLI uses on a folder, over
/// the listing (<see cref="ListedDatasetFiles"/>: labels.csv and VideoDemographics.csv fetched, every other blob known by
/// name), so the layouts, label parsing, id assignment and actor split are those of the local path, and no audio is
/// downloaded to plan a run.
/// </summary>
public static class BlobDataset
{
    /// <summary>The most bytes a dataset's labels.csv or VideoDemographics.csv may hold, as on disk.</summary>
    public const long MaxCsvBytes = LocalDatasetFiles.MaxTextBytes;

    /// <summary>The blob prefix of a dataset given by name (<see cref="BlobLayout.DatasetPrefix"/>) or by prefix (ending with '/').</summary>
    public static string PrefixOf(string nameOrPrefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPrefix);
        var value = nameOrPrefix.Trim();
        if (!value.Contains('/')) return BlobLayout.DatasetPrefix(value);
        var prefix = BlobKey.AsFolderPrefix(value.TrimEnd('/'));
        // Only the datasets folder: not runs/, features/ or any other prefix of the container.
        if (!prefix.StartsWith(BlobLayout.DatasetsFolder + "/", StringComparison.Ordinal) || prefix.Length <= BlobLayout.DatasetsFolder.Length + 1)
        {
            throw new ArgumentException($"The dataset '{nameOrPrefix}' must be a name or a folder under {BlobLayout.DatasetsFolder}/ (datasets/<name>/).",
                nameof(nameOrPrefix));
        }
        return prefix;
    }

    /// <summary>
    /// Puts a local dataset folder into storage under <see cref="PrefixOf"/>(<paramref name="name"/>), after checking that it
    /// reads as a dataset (either layout), so nothing malformed is uploaded. With <paramref name="clipsPerPack"/> above 0
    /// (the default) the clips go up packed (<see cref="DatasetPacks"/>): a few large blobs a shard reads in a few
    /// requests; with 0, one blob per file, as any other upload tool makes them (both read the same). Returns the prefix
    /// and the number of blobs written.
    /// </summary>
    /// <exception cref="DatasetFormatException">The folder is not a readable dataset; the message names the file and the reason.</exception>
    public static async Task<(string Prefix, int Files, Dataset Dataset)> UploadAsync(IBlobStore store, string localDirectory, string name,
        DatasetOptions? options = null, int clipsPerPack = DatasetPacks.DefaultClipsPerPack, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegative(clipsPerPack);
        var dataset = DatasetReader.Open(localDirectory, options ?? new DatasetOptions());
        var prefix = PrefixOf(name);
        if (clipsPerPack > 0)
        {
            var blobs = await DatasetPacks.UploadAsync(store, dataset, localDirectory, prefix, clipsPerPack, cancellationToken).ConfigureAwait(false);
            return (prefix, blobs, dataset);
        }
        var keys = await store.UploadDirectoryAsync(localDirectory, prefix, cancellationToken: cancellationToken).ConfigureAwait(false);
        return (prefix, keys.Count, dataset);
    }

    /// <exception cref="DatasetUnavailableException">Nothing under the prefix, or not a readable dataset; the message names the prefix and the reason.</exception>
    public static async Task<BlobDatasetListing> ReadAsync(IBlobStore store, DatasetRef reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reference);
        var prefix = reference.Prefix;
        var blobs = new Dictionary<string, BlobInfo>(StringComparer.Ordinal);
        var packBlobs = new Dictionary<string, BlobInfo>(StringComparer.Ordinal);
        var packsPrefix = BlobLayout.DatasetPacksPrefix(prefix);
        await foreach (var blob in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (blob.Key.StartsWith(packsPrefix, StringComparison.Ordinal)) packBlobs[blob.Key] = blob;
            else blobs[blob.Key[prefix.Length..]] = blob;
        }
        // A packed upload's clips are listed by its index; a clip also stored loose is read from its pack (the index is newer).
        var packed = await DatasetPacks.ReadAsync(store, prefix, packBlobs, cancellationToken).ConfigureAwait(false);
        if (blobs.Count == 0 && packed.Count == 0)
        {
            throw new DatasetUnavailableException(
                $"Dataset '{prefix}' was not found in {store.Location}: no blobs under that prefix. Upload it first (cremad dataset upload DIR --name NAME).");
        }

        // The reader works on the listing itself (no skeleton of empty files: thousands of file creations per run); it
        // reads only the CSVs, fetched here. The root only names files in the reader's messages (replaced by the prefix
        // below) and in the dataset's description; nothing is written there.
        var root = Path.GetFullPath(Path.Combine(Path.GetTempPath(), "cremad-blob-dataset"));
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (relative, blob) in blobs)
        {
            var name = Path.GetFileName(relative);
            if (!packed.ContainsKey(relative) && (name.Equals(DatasetReader.LabelsFileName, StringComparison.OrdinalIgnoreCase)
                || name.Equals(ActorDemographics.FileName, StringComparison.OrdinalIgnoreCase)))
            {
                if (blob.Size > MaxCsvBytes)
                {
                    throw new DatasetUnavailableException(
                        $"Dataset '{prefix}' in {store.Location} cannot be read: '{blob.Key}' is {blob.Size:N0} bytes, more than the {MaxCsvBytes:N0} a CSV may hold.");
                }
                await using var content = await store.OpenReadAsync(blob.Key, cancellationToken).ConfigureAwait(false);
                using var reader = new StreamReader(content, detectEncodingFromByteOrderMarks: true); // as File.ReadAllText reads a local one
                texts[relative] = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        var files = new ListedDatasetFiles(root, blobs.Keys.Union(packed.Keys), texts);

        Dataset dataset;
        try
        {
            dataset = DatasetReader.Open(root, new DatasetOptions
            {
                Layout = reference.Layout switch
                {
                    DatasetLayoutChoice.Course => DatasetLayout.Course,
                    DatasetLayoutChoice.Official => DatasetLayout.Official,
                    _ => null,
                },
                Seed = reference.SplitSeed,
                LabelsFrom = reference.LabelsFrom == LabelSourceChoice.Perceived ? LabelSource.Perceived : LabelSource.Acted,
                Fold = reference.Fold is { } fold ? new FoldSplit(fold.Index - 1, fold.Count, fold.Seed) : null,
                Files = files,
            });
        }
        catch (DatasetFormatException e)
        {
            // The reader names local skeleton paths; say which blobs they stand for.
            throw new DatasetUnavailableException(
                $"Dataset '{prefix}' in {store.Location} cannot be read: {e.Message.Replace(root + Path.DirectorySeparatorChar, prefix, StringComparison.Ordinal).Replace(root, prefix, StringComparison.Ordinal)}", e);
        }

        var clips = dataset.Clips.Select(clip =>
        {
            var key = BlobLayout.FileKey(prefix, clip.RelativePath);
            if (packed.TryGetValue(clip.RelativePath, out var inPack))
            {
                // The clip's version is its pack's: a new upload writes new packs.
                return new BlobClip(clip, key, new SourceStamp(inPack.Range.Length, inPack.PackLastModified.UtcTicks), inPack.Range);
            }
            var blob = blobs[clip.RelativePath];
            return new BlobClip(clip, blob.Key, new SourceStamp(blob.Size, blob.LastModified.UtcTicks));
        }).ToList();
        var fingerprint = DatasetFingerprint.Compute(clips.Select(c => (c.Entry, c.Stamp)));
        var rejected = dataset.Rejected.Select(r => new ClipRejection(BlobLayout.FileKey(prefix, r.Path), r.Reason, RejectionStage.Dataset)).ToList();
        return new BlobDatasetListing(reference, dataset, clips, fingerprint, rejected);
    }

    /// <summary>Contract partition of a dataset partition.</summary>
    public static ClipPartition ToContract(this Partition partition) => partition switch
    {
        Partition.Train => ClipPartition.Train,
        Partition.Validation => ClipPartition.Validation,
        Partition.Test => ClipPartition.Test,
        _ => throw new ArgumentOutOfRangeException(nameof(partition), partition, "unknown partition"),
    };

    /// <summary>Dataset partition of a contract partition.</summary>
    public static Partition ToDataset(this ClipPartition partition) => partition switch
    {
        ClipPartition.Train => Partition.Train,
        ClipPartition.Validation => Partition.Validation,
        ClipPartition.Test => Partition.Test,
        _ => throw new ArgumentOutOfRangeException(nameof(partition), partition, "unknown partition"),
    };
}
