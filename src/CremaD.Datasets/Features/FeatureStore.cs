using System.Buffers.Binary;
using System.Runtime.InteropServices;
using CremaD.Audio;
using Microsoft.Win32.SafeHandles;

namespace CremaD.Datasets;

/// <summary>A complete feature store written by <see cref="FeatureStage"/>, opened for reading.</summary>
public sealed class FeatureStore
{
    private readonly NormalisationFile? _normalisation;

    private FeatureStore(string directory, FeatureStoreIndex index, FeatureStoreMetadata metadata,
        NormalisationFile? normalisation, IReadOnlyList<RejectedClip> rejected)
    {
        Directory = directory;
        Index = index;
        Metadata = metadata;
        _normalisation = normalisation;
        Rejected = rejected;
    }

    public string Directory { get; }

    public FeatureStoreIndex Index { get; }

    public IReadOnlyList<FeatureStoreEntry> Clips => Index.Clips;

    public FeatureStoreMetadata Metadata { get; }

    /// <summary>Clips left out of the store, with the reason.</summary>
    public IReadOnlyList<RejectedClip> Rejected { get; }

    public bool HasNormalisation => _normalisation is not null;

    /// <summary>Train-set per-band mean and std. Throws when the dataset had no train clips.</summary>
    public Normalisation Normalisation => _normalisation is { } n
        ? new Normalisation(n.Mean, n.Std, n.Frames)
        : throw new DatasetFormatException(Path.Combine(Directory, FeatureStoreFiles.Normalisation), null,
            "no normalisation: the dataset has no train clips");

    /// <summary>The normalisation file as written (with the clip count and the train fingerprint), or null.</summary>
    public NormalisationFile? NormalisationFile => _normalisation;

    /// <summary>True when <paramref name="directory"/> holds a store a run finished writing.</summary>
    public static bool IsComplete(string directory) =>
        File.Exists(Path.Combine(directory, FeatureStoreFiles.Index)) && File.Exists(Path.Combine(directory, FeatureStoreFiles.Metadata));

    public static FeatureStore Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory)) throw new DatasetFormatException(directory, null, "feature store not found");
        var indexPath = Path.Combine(directory, FeatureStoreFiles.Index);
        var metadataPath = Path.Combine(directory, FeatureStoreFiles.Metadata);
        if (!File.Exists(indexPath)) throw new DatasetFormatException(directory, null, $"not a feature store: no {FeatureStoreFiles.Index}");
        if (!File.Exists(metadataPath))
        {
            throw new DatasetFormatException(directory, null, $"incomplete feature store (no {FeatureStoreFiles.Metadata}): run the feature stage again to finish it");
        }
        var index = FeatureStoreFiles.Read<FeatureStoreIndex>(indexPath);
        if (index.Format != FeatureStoreFiles.FormatVersion)
        {
            throw new DatasetFormatException(indexPath, null, $"store format {index.Format}, this tool reads format {FeatureStoreFiles.FormatVersion}: run the feature stage again");
        }
        if (index.RecipeVersion != FeatureRecipe.Version || index.MelBands != FeatureRecipe.MelBands)
        {
            throw new DatasetFormatException(indexPath, null,
                $"features made with recipe version {index.RecipeVersion} ({index.MelBands} bands), this tool uses version {FeatureRecipe.Version} ({FeatureRecipe.MelBands} bands): run the feature stage again");
        }
        foreach (var entry in index.Clips)
        {
            if (!FeatureStoreFiles.IsPartPath(entry.FeatureFile) || entry.Offset < 0 || entry.Frames <= 0)
            {
                throw new DatasetFormatException(indexPath, null,
                    $"clip '{entry.Id}': invalid location {entry.FeatureFile} offset {entry.Offset}, {entry.Frames} frames");
            }
        }
        var metadata = FeatureStoreFiles.Read<FeatureStoreMetadata>(metadataPath);
        var normalisationPath = Path.Combine(directory, FeatureStoreFiles.Normalisation);
        var normalisation = File.Exists(normalisationPath) ? FeatureStoreFiles.Read<NormalisationFile>(normalisationPath) : null;
        if (normalisation is not null && (normalisation.Mean.Length != FeatureRecipe.MelBands || normalisation.Std.Length != FeatureRecipe.MelBands))
        {
            throw new DatasetFormatException(normalisationPath, null, $"expected {FeatureRecipe.MelBands} means and stds, found {normalisation.Mean.Length} and {normalisation.Std.Length}");
        }
        var rejectedPath = Path.Combine(directory, FeatureStoreFiles.Rejected);
        var rejected = File.Exists(rejectedPath) ? FeatureStoreFiles.Read<RejectedFileList>(rejectedPath).Clips : [];
        return new FeatureStore(directory, index, metadata, normalisation, rejected);
    }

    public IReadOnlyList<FeatureStoreEntry> Entries(Partition partition) => Clips.Where(c => c.Partition == partition).ToList();

    /// <summary>Loads every clip of <paramref name="partition"/>, in index order (each part file opened once, clips read in parallel).</summary>
    public IReadOnlyList<FeatureClip> LoadPartition(Partition partition) => Load(Entries(partition));

    /// <summary>Loads the given clips, in the given order.</summary>
    public IReadOnlyList<FeatureClip> Load(IReadOnlyList<FeatureStoreEntry> entries)
    {
        var handles = new Dictionary<string, SafeFileHandle>(StringComparer.Ordinal);
        try
        {
            foreach (var part in entries.Select(e => e.FeatureFile).Distinct(StringComparer.Ordinal))
            {
                handles[part] = OpenPart(Path.Combine(Directory, part));
            }
            var clips = new FeatureClip[entries.Count];
            Parallel.For(0, entries.Count, i =>
            {
                var entry = entries[i];
                var data = ReadMatrix(handles[entry.FeatureFile], Path.Combine(Directory, entry.FeatureFile), entry.Offset, entry.Frames, null);
                clips[i] = new FeatureClip(entry.Id, entry.Label, entry.Frames, data, entry.Actor);
            });
            return clips;
        }
        finally
        {
            foreach (var handle in handles.Values) handle.Dispose();
        }
    }

    public FeatureClip Load(FeatureStoreEntry entry) =>
        new(entry.Id, entry.Label, entry.Frames, ReadMatrix(Path.Combine(Directory, entry.FeatureFile), entry.Offset, entry.Frames), entry.Actor);

    /// <summary>
    /// Reads one clip's [<paramref name="frames"/> x 80] matrix at <paramref name="offset"/> of a part file. Returns
    /// <paramref name="buffer"/> when it is large enough (the caller then uses its first frames x 80 values), else a new
    /// array of exactly that size.
    /// </summary>
    public static float[] ReadMatrix(string partPath, long offset, int frames, float[]? buffer = null)
    {
        using var handle = OpenPart(partPath);
        return ReadMatrix(handle, partPath, offset, frames, buffer);
    }

    internal static SafeFileHandle OpenPart(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetFormatException(path, null, $"cannot read features: {e.Message}", e);
        }
    }

    internal static float[] ReadMatrix(SafeFileHandle handle, string path, long offset, int frames, float[]? buffer)
    {
        var count = frames * FeatureRecipe.MelBands;
        var data = buffer is not null && buffer.Length >= count ? buffer : new float[count];
        var bytes = MemoryMarshal.AsBytes(data.AsSpan(0, count));
        try
        {
            var total = 0;
            while (total < bytes.Length)
            {
                var read = RandomAccess.Read(handle, bytes[total..], offset + total);
                if (read == 0)
                {
                    throw new DatasetFormatException(path, null,
                        $"file ends inside a clip: expected {frames} frames x {FeatureRecipe.MelBands} bands ({bytes.Length} bytes) at offset {offset}, found {total} bytes");
                }
                total += read;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetFormatException(path, null, $"cannot read features: {e.Message}", e);
        }
        if (!BitConverter.IsLittleEndian)
        {
            var ints = MemoryMarshal.Cast<float, int>(data.AsSpan(0, count));
            BinaryPrimitives.ReverseEndianness(ints, ints);
        }
        return data;
    }
}
