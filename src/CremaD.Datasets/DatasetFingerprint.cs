using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace CremaD.Datasets;

/// <summary>Size and last-write time of a clip's audio file: what decides whether its cached features are still valid.</summary>
public readonly record struct SourceStamp(long Size, long LastWriteTicksUtc)
{
    /// <summary>Stamp of a file, or <see cref="Missing"/> when it does not exist.</summary>
    public static SourceStamp Of(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? new SourceStamp(info.Length, info.LastWriteTimeUtc.Ticks) : Missing;
    }

    public static SourceStamp Missing { get; } = new(-1, 0);
}

/// <summary>
/// A stable hash of a dataset: every clip's relative path, label, partition, size and last-write time.
/// Equal fingerprints mean the same files with the same labels; it keys cached features and run manifests.
/// </summary>
public static class DatasetFingerprint
{
    public static string Compute(Dataset dataset) =>
        Compute(dataset.Clips.Select(c => (c, SourceStamp.Of(dataset.FullPath(c)))));

    /// <summary>Fingerprint from stamps the caller already has (one stat per clip is enough).</summary>
    public static string Compute(IEnumerable<(ClipEntry Clip, SourceStamp Stamp)> clips)
    {
        var text = new StringBuilder("cremad-dataset-v1\n");
        foreach (var (clip, stamp) in clips.OrderBy(c => c.Clip.RelativePath, StringComparer.Ordinal))
        {
            text.Append(clip.RelativePath).Append('\t')
                .Append(clip.Label.ToString(CultureInfo.InvariantCulture)).Append('\t')
                .Append(clip.Partition.ToName()).Append('\t')
                .Append(stamp.Size.ToString(CultureInfo.InvariantCulture)).Append('\t')
                .Append(stamp.LastWriteTicksUtc.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
