using CremaD.Contracts;
using CremaD.Datasets;

namespace CremaD.BlobStaging;

/// <summary>What the feature store's metadata says about the dataset it was made from (in blob terms).</summary>
/// <param name="Location">Where the dataset is, for people: the store location and prefix.</param>
public sealed record BlobDatasetDescription(string Prefix, string Location, DatasetLayout Layout, string? LabelsKey, int? SplitSeed,
    string? DemographicsKey, string Fingerprint, IReadOnlyList<ClipRejection> Rejected, LabelSource LabelsFrom = LabelSource.Acted)
{
    /// <summary>A clip key relative to the dataset root (what the local store records as the clip's path).</summary>
    public string RelativePath(string key) => key.StartsWith(Prefix, StringComparison.Ordinal) ? key[Prefix.Length..] : key;

    public static BlobDatasetDescription Of(BlobDatasetListing listing, string storeLocation)
    {
        var dataset = listing.Dataset;
        string? Key(string? localPath) => localPath is null
            ? null
            : BlobLayout.FileKey(listing.Reference.Prefix, Path.GetRelativePath(dataset.Root, localPath).Replace(Path.DirectorySeparatorChar, '/'));
        return new BlobDatasetDescription(listing.Reference.Prefix, $"{storeLocation}/{listing.Reference.Prefix}", dataset.Layout,
            Key(dataset.LabelsPath), dataset.SplitSeed, Key(dataset.DemographicsPath), listing.Fingerprint, listing.Rejected, dataset.LabelsFrom);
    }
}
