namespace CremaD.Storage;

/// <summary>
/// The storage port of the pipeline: a flat namespace of blobs addressed by keys that are '/'-separated
/// relative paths such as <c>runs/&lt;id&gt;/history.json</c> (see <see cref="BlobKey"/> for the rules).
/// Implementations: <see cref="LocalFolderBlobStore"/> (a folder on disk) and <see cref="AzureBlobStore"/>
/// (one Azure Blob container, or Azurite). Create one from configuration with
/// <see cref="BlobStoreFactory.FromConnectionString"/>. Convenience operations (JSON, bytes, whole
/// directories) are in <see cref="BlobStoreExtensions"/>.
/// </summary>
public interface IBlobStore
{
    /// <summary>Where the blobs live, for messages and logs (never contains a secret).</summary>
    string Location { get; }

    Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Size, last-modified time and ETag of the blob, or null when it does not exist.</summary>
    Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// The blob's whole content with its properties, in one request (where <see cref="GetInfoAsync"/> and
    /// <see cref="OpenReadAsync"/> take two); null when it does not exist.
    /// </summary>
    Task<BlobContent?> TryReadAllAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// <paramref name="length"/> bytes of the blob from <paramref name="offset"/>, with the properties of the whole blob,
    /// in one request; fewer bytes when the blob ends earlier (none when it ends before <paramref name="offset"/>); null
    /// when it does not exist. How a packed dataset's clips are read: one request for many clips.
    /// </summary>
    Task<BlobContent?> TryReadRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default);

    /// <summary>Opens the blob's content for reading; the caller disposes the stream.</summary>
    /// <exception cref="BlobNotFoundException">No blob exists under the key.</exception>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="content"/> (from its current position to its end) as the blob's whole content.
    /// Readers see either the old or the new content, never a mixture. With a <paramref name="condition"/>
    /// the write happens only if it holds.
    /// </summary>
    /// <exception cref="BlobConditionFailedException">The condition did not hold; nothing was written.</exception>
    /// <exception cref="BlobLeaseConflictException">The blob is leased; nothing was written.</exception>
    Task<BlobInfo> UploadAsync(string key, Stream content, BlobWriteCondition? condition = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Downloads the blob to a local file, creating its folder. The file appears complete or not at all
    /// (written beside it under a temporary name, then renamed).
    /// </summary>
    /// <exception cref="BlobNotFoundException">No blob exists under the key.</exception>
    Task DownloadToFileAsync(string key, string path, CancellationToken cancellationToken = default);

    /// <summary>Uploads a local file as the blob's whole content (overwriting).</summary>
    Task UploadFileAsync(string key, string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// The blobs whose keys start with <paramref name="prefix"/> (a plain string prefix: "runs/4" matches
    /// "runs/42/x"; end it with '/' to list one folder), in ordinal key order. "" lists everything.
    /// </summary>
    IAsyncEnumerable<BlobInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes the blob; false when there was none.</summary>
    /// <exception cref="BlobLeaseConflictException">The blob is leased; nothing was deleted.</exception>
    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes an exclusive lease on <paramref name="key"/> for <paramref name="duration"/> (15–60 s, see
    /// <see cref="BlobLeaseDuration"/>), creating an empty blob under the key if none exists.
    /// </summary>
    /// <exception cref="BlobLeaseConflictException">Another owner holds an active lease on the key.</exception>
    Task<IBlobLease> AcquireLeaseAsync(string key, TimeSpan duration, CancellationToken cancellationToken = default);
}
