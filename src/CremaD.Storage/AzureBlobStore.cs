using System.Runtime.CompilerServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using CremaD.Telemetry;

namespace CremaD.Storage;

/// <summary>
/// A blob store over one Azure Blob Storage container (or the Azurite emulator), created on first use if it
/// does not exist. Conditional writes map to the service's If-Match / If-None-Match: * preconditions, ETags are
/// the service's, and leases are Azure blob leases, so all guarantees hold across any number of processes and
/// machines.
/// </summary>
public sealed class AzureBlobStore : IBlobStore
{
    private readonly BlobContainerClient _container;
    private readonly object _containerCreationLock = new();
    private Task? _containerCreation;

    static AzureBlobStore() => AzureSdkTracing.Enable();

    public AzureBlobStore(BlobContainerClient container)
    {
        ArgumentNullException.ThrowIfNull(container);
        _container = container;
        // The URI without its query, which may hold a SAS token.
        Location = $"Azure blob container '{container.Name}' at {container.Uri.GetLeftPart(UriPartial.Path)}";
    }

    /// <summary>The container the blobs live in.</summary>
    public BlobContainerClient Container => _container;

    public string Location { get; }

    public async Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        return (await blob.ExistsAsync(cancellationToken).ConfigureAwait(false)).Value;
    }

    public async Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            var properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            return new BlobInfo(key, properties.ContentLength, properties.LastModified, ETagText(properties.ETag));
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<BlobContent?> TryReadAllAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            // One GET; its response headers carry the properties, so no HEAD is needed.
            var download = (await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value;
            var details = download.Details;
            var content = download.Content.ToMemory();
            return new BlobContent(new BlobInfo(key, content.Length, details.LastModified, ETagText(details.ETag)), content);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<BlobContent?> TryReadRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            var options = new BlobDownloadOptions { Range = new HttpRange(offset, length) };
            var download = (await blob.DownloadContentAsync(options, cancellationToken).ConfigureAwait(false)).Value;
            var details = download.Details;
            var content = download.Content.ToMemory();
            return new BlobContent(new BlobInfo(key, TotalLength(details.ContentRange) ?? offset + content.Length, details.LastModified,
                ETagText(details.ETag)), content);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
        catch (RequestFailedException e) when (e.Status == 416)
        {
            // The range starts at or past the end: nothing to read, but the blob exists.
            var info = await GetInfoAsync(key, cancellationToken).ConfigureAwait(false);
            return info is null ? null : new BlobContent(info, ReadOnlyMemory<byte>.Empty);
        }
    }

    /// <summary>The whole blob's length from a Content-Range header such as <c>bytes 0-99/1234</c>.</summary>
    private static long? TotalLength(string? contentRange)
    {
        var slash = contentRange?.LastIndexOf('/') ?? -1;
        return slash >= 0 && long.TryParse(contentRange.AsSpan(slash + 1), System.Globalization.NumberStyles.None,
            System.Globalization.CultureInfo.InvariantCulture, out var total) ? total : null;
    }

    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            // A streaming download: the SDK resumes it from the last byte read if the connection drops, and
            // pins it to the ETag it started with, so a concurrent overwrite cannot splice two versions.
            var download = await blob.DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return download.Value.Content;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new BlobNotFoundException(key, Location, e);
        }
    }

    public async Task<BlobInfo> UploadAsync(string key, Stream content, BlobWriteCondition? condition = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        var options = new BlobUploadOptions { Conditions = ToRequestConditions(condition) };
        var seekableSize = content.CanSeek ? content.Length - content.Position : -1;
        var counted = content.CanSeek ? null : new CountingReadStream(content);
        try
        {
            var uploaded = (await blob.UploadAsync(counted ?? content, options, cancellationToken).ConfigureAwait(false)).Value;
            return new BlobInfo(key, counted?.BytesRead ?? seekableSize, uploaded.LastModified, ETagText(uploaded.ETag));
        }
        catch (RequestFailedException e)
        {
            throw MapWriteFailure(e, key, condition, "written");
        }
    }

    public async Task DownloadToFileAsync(string key, string path, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            await LocalFiles.WriteAtomicallyAsync(path,
                async (file, ct) => await blob.DownloadToAsync(file, ct).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            throw new BlobNotFoundException(key, Location, e);
        }
    }

    public async Task UploadFileAsync(string key, string path, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read,
            bufferSize: 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        try
        {
            await blob.UploadAsync(source, new BlobUploadOptions(), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e)
        {
            throw MapWriteFailure(e, key, condition: null, "written");
        }
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync(string prefix,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        BlobKey.ValidatePrefix(prefix);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        var pages = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix.Length == 0 ? null : prefix },
            cancellationToken);
        await foreach (var item in pages.ConfigureAwait(false))
        {
            // Names the port could not have written (for example with a backslash) are not its blobs.
            if (!BlobKey.IsValid(item.Name))
            {
                continue;
            }
            yield return new BlobInfo(item.Name, item.Properties.ContentLength ?? 0,
                item.Properties.LastModified ?? DateTimeOffset.MinValue, item.Properties.ETag is { } etag ? ETagText(etag) : "");
        }
    }

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            var deleted = await blob.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots,
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return deleted.Value;
        }
        catch (RequestFailedException e)
        {
            throw MapWriteFailure(e, key, condition: null, "deleted");
        }
    }

    public async Task<IBlobLease> AcquireLeaseAsync(string key, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        BlobLeaseDuration.Validate(duration);
        var blob = await BlobAsync(key, cancellationToken).ConfigureAwait(false);
        try
        {
            // A lease needs a blob to hold it: create an empty one unless one exists (leased or not).
            await blob.UploadAsync(BinaryData.Empty,
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            // It exists already.
        }
        var leaseClient = blob.GetBlobLeaseClient();
        var expiresAt = DateTimeOffset.UtcNow + duration;
        try
        {
            await leaseClient.AcquireAsync(duration, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            throw new BlobLeaseConflictException(key, $"Blob '{key}' in {Location} is already leased by another owner.", e);
        }
        return new AzureBlobLease(leaseClient, key, duration, expiresAt, Location);
    }

    private async Task<BlobClient> BlobAsync(string key, CancellationToken cancellationToken)
    {
        BlobKey.Validate(key);
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        return _container.GetBlobClient(key);
    }

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        Task creation;
        lock (_containerCreationLock)
        {
            _containerCreation ??= _container.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None);
            creation = _containerCreation;
        }
        try
        {
            await creation.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || creation.IsCanceled)
        {
            // Let the next call try again rather than remembering a transient failure for ever.
            lock (_containerCreationLock)
            {
                if (ReferenceEquals(_containerCreation, creation))
                {
                    _containerCreation = null;
                }
            }
            if (e is RequestFailedException failure)
            {
                throw new InvalidOperationException(
                    $"Cannot create or open the blob container '{_container.Name}' ({Location}): {failure.Status} {failure.ErrorCode}: {FirstLine(failure.Message)}", failure);
            }
            throw;
        }
    }

    private static BlobRequestConditions? ToRequestConditions(BlobWriteCondition? condition) => condition switch
    {
        null => null,
        { RequiresAbsence: true } => new BlobRequestConditions { IfNoneMatch = ETag.All },
        _ => new BlobRequestConditions { IfMatch = new ETag(condition.RequiredETag!) },
    };

    private Exception MapWriteFailure(RequestFailedException e, string key, BlobWriteCondition? condition, string operation)
    {
        if (e.ErrorCode == BlobErrorCode.LeaseIdMissing || e.ErrorCode == BlobErrorCode.LeaseIdMismatchWithBlobOperation)
        {
            return new BlobLeaseConflictException(key,
                $"Blob '{key}' in {Location} cannot be {operation}: it is leased by another owner.", e);
        }
        if (condition is not null
            && (e.Status == 412 || e.ErrorCode == BlobErrorCode.BlobAlreadyExists || (e.Status == 404 && !condition.RequiresAbsence)))
        {
            return new BlobConditionFailedException(key, condition, Location, e);
        }
        return new BlobStoreException(key,
            $"Blob '{key}' in {Location} could not be {operation}: {e.Status} {e.ErrorCode}: {FirstLine(e.Message)}", e);
    }

    /// <summary>
    /// The ETag in its HTTP header form, quoted. Responses' ETag headers are quoted, blob listings are not;
    /// one form makes tokens from either comparable (and usable in <see cref="BlobWriteCondition.IfMatch"/>).
    /// </summary>
    private static string ETagText(ETag etag)
    {
        var text = etag.ToString();
        return text.StartsWith('"') || text.StartsWith("W/", StringComparison.Ordinal) ? text : $"\"{text}\"";
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    /// <summary>
    /// Counts the bytes read from a forward-only stream, so an upload reports its size without another request.
    /// (Seekable content is measured up front instead: the SDK rewinds it to retry a failed request.)
    /// </summary>
    private sealed class CountingReadStream(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Counted(inner.Read(buffer));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Counted(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Counted(int read)
        {
            BytesRead += read;
            return read;
        }
    }
}

/// <summary>An Azure blob lease.</summary>
internal sealed class AzureBlobLease(BlobLeaseClient leaseClient, string key, TimeSpan duration,
    DateTimeOffset expiresAt, string location) : IBlobLease
{
    private bool _released;

    public string Key { get; } = key;
    public string LeaseId => leaseClient.LeaseId;
    public TimeSpan Duration { get; } = duration;
    public DateTimeOffset ExpiresAt { get; private set; } = expiresAt;

    public async Task RenewAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_released, this);
        var requestedAt = DateTimeOffset.UtcNow;
        try
        {
            await leaseClient.RenewAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            throw new BlobLeaseLostException(Key, location, e);
        }
        ExpiresAt = requestedAt + Duration;
    }

    public async Task ReleaseAsync(CancellationToken cancellationToken = default)
    {
        if (_released)
        {
            return;
        }
        try
        {
            await leaseClient.ReleaseAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 409)
        {
            throw new BlobLeaseLostException(Key, location, e);
        }
        _released = true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is BlobLeaseLostException or RequestFailedException)
        {
            // Lost already, or the service is unreachable: the lease expires by itself.
        }
        _released = true;
    }
}
