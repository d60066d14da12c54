using CremaD.Storage;

namespace CremaD.Services.Tests;

/// <summary>Forwards every call to another store; tests override what they make fail.</summary>
internal class DelegatingBlobStore(IBlobStore inner) : IBlobStore
{
    public string Location => inner.Location;
    public virtual Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) => inner.ExistsAsync(key, cancellationToken);
    public virtual Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default) => inner.GetInfoAsync(key, cancellationToken);
    public virtual Task<BlobContent?> TryReadAllAsync(string key, CancellationToken cancellationToken = default) => inner.TryReadAllAsync(key, cancellationToken);
    public virtual Task<BlobContent?> TryReadRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default) =>
        inner.TryReadRangeAsync(key, offset, length, cancellationToken);
    public virtual Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) => inner.OpenReadAsync(key, cancellationToken);
    public virtual Task<BlobInfo> UploadAsync(string key, Stream content, BlobWriteCondition? condition = null, CancellationToken cancellationToken = default) =>
        inner.UploadAsync(key, content, condition, cancellationToken);
    public virtual Task DownloadToFileAsync(string key, string path, CancellationToken cancellationToken = default) =>
        inner.DownloadToFileAsync(key, path, cancellationToken);
    public virtual Task UploadFileAsync(string key, string path, CancellationToken cancellationToken = default) =>
        inner.UploadFileAsync(key, path, cancellationToken);
    public virtual IAsyncEnumerable<BlobInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
    public virtual Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);
    public virtual Task<IBlobLease> AcquireLeaseAsync(string key, TimeSpan duration, CancellationToken cancellationToken = default) =>
        inner.AcquireLeaseAsync(key, duration, cancellationToken);
}
