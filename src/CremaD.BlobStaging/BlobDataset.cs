using CremaD.Contracts;
using CremaD.Datasets;
using CremaD.Storage;

namespace CremaD.BlobStaging;

/// <summary>
/// Reads a dataset stored under a blob prefix with the same <see cref="DatasetReader"/> the CLI uses on a folder: the
/// listing becomes a local skeleton (labels.csv and VideoDemographics.csv downloaded, every other blob an empty file of
/// the same relative path), so the layouts, label parsing, id assignment and actor split are those of the local path,
/// and no audio is downloaded to plan a run.
/// </summary>
public static class BlobDataset
{
    /// <summary>The blob prefix of a dataset given by name (<see cref="BlobLayout.DatasetPrefix"/>) or by prefix (ending with '/').</summary>
    public static string PrefixOf(string nameOrPrefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPrefix);
        var value = nameOrPrefix.Trim();
        return value.Contains('/') ? BlobKey.AsFolderPrefix(value.TrimEnd('/')) : BlobLayout.DatasetPrefix(value);
    }

    /// <summary>
    /// Puts a local dataset folder into storage under <see cref="PrefixOf"/>(<paramref name="name"/>), after checking that it
    /// reads as a dataset (either layout), so nothing malformed is uploaded. Returns the prefix and the number of files.
    /// </summary>
    /// <exception cref="DatasetFormatException">The folder is not a readable dataset; the message names the file and the reason.</exception>
    public static async Task<(string Prefix, int Files, Dataset Dataset)> UploadAsync(IBlobStore store, string localDirectory, string name,
        DatasetOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var dataset = DatasetReader.Open(localDirectory, options ?? new DatasetOptions());
        var prefix = PrefixOf(name);
        var keys = await store.UploadDirectoryAsync(localDirectory, prefix, cancellationToken: cancellationToken).ConfigureAwait(false);
        return (prefix, keys.Count, dataset);
    }

    /// <exception cref="DatasetUnavailableException">Nothing under the prefix, or not a readable dataset; the message names the prefix and the reason.</exception>
    public static async Task<BlobDatasetListing> ReadAsync(IBlobStore store, DatasetRef reference, string scratchDirectory,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(reference);
        var prefix = reference.Prefix;
        var blobs = new Dictionary<string, BlobInfo>(StringComparer.Ordinal);
        await foreach (var blob in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            blobs[blob.Key[prefix.Length..]] = blob;
        }
        if (blobs.Count == 0)
        {
            throw new DatasetUnavailableException(
                $"Dataset '{prefix}' was not found in {store.Location}: no blobs under that prefix. Upload it first (cremad dataset upload DIR --name NAME).");
        }

        var root = Path.Combine(scratchDirectory, "dataset");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        foreach (var (relative, blob) in blobs)
        {
            var path = Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var name = Path.GetFileName(relative);
            if (name.Equals(DatasetReader.LabelsFileName, StringComparison.OrdinalIgnoreCase)
                || name.Equals(ActorDemographics.FileName, StringComparison.OrdinalIgnoreCase))
            {
                await store.DownloadToFileAsync(blob.Key, path, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await File.WriteAllBytesAsync(path, [], cancellationToken).ConfigureAwait(false);
            }
        }

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
