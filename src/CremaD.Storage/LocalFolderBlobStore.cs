using System.IO.Enumeration;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace CremaD.Storage;

/// <summary>
/// A blob store in a local folder: key "runs/42/history.json" is the file
/// <c>&lt;root&gt;/runs/42/history.json</c>, so results can be inspected with ordinary tools.
/// <para>
/// Guarantees: every write goes to a temporary file in the same file system, is flushed to disk and then
/// renamed over the target, so readers see the old or the new content, never a part. Writes, deletes and
/// lease operations on a key are serialised by <see cref="LocalKeyLocks"/> (a process-wide lock plus an
/// advisory file lock shared with other processes running this code), under which conditions and leases
/// are checked against the file system. ETags are <c>"&lt;mtime ticks&gt;-&lt;size&gt;"</c>; each write
/// through this class gets a strictly later modification time than the content it replaces, so ETags change
/// on every write.
/// </para>
/// <para>
/// Limits (use <see cref="AzureBlobStore"/> where they matter): programs that change files without this
/// class bypass conditions and leases, and an in-place edit that keeps size and modification time is not
/// seen as a change; the advisory file locks may not work on some network file systems; a blob and a folder
/// cannot share a name ("a/b" and "a/b/c" cannot both be blobs, unlike in Azure); a file system with coarse
/// timestamps gives an ETag reused after delete-and-recreate within the same tick. Bookkeeping lives in
/// <c>&lt;root&gt;/.cremad-store/</c> (temporary files, lock stripes, lease files), which is never listed.
/// Lease expiry is judged by the clocks of the processes involved.
/// </para>
/// </summary>
public sealed class LocalFolderBlobStore : IBlobStore
{
    private static readonly TimeSpan StaleTemporaryFileAge = TimeSpan.FromDays(1);
    private static readonly string Owner = $"{Environment.MachineName} pid {Environment.ProcessId}";

    private readonly string _temporaryDirectory;
    private readonly string _leaseDirectory;
    private readonly LocalKeyLocks _locks;
    private readonly TimeProvider _time;

    /// <param name="rootDirectory">The folder that holds the blobs; created if missing.</param>
    /// <param name="timeProvider">Clock for lease expiry (tests pass a controllable one); the system clock by default.</param>
    public LocalFolderBlobStore(string rootDirectory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDirectory);
        RootDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootDirectory));
        var bookkeeping = Path.Combine(RootDirectory, BlobKey.ReservedFolder);
        _temporaryDirectory = Path.Combine(bookkeeping, "tmp");
        _leaseDirectory = Path.Combine(bookkeeping, "leases");
        _locks = new LocalKeyLocks(Path.Combine(bookkeeping, "locks"));
        _time = timeProvider ?? TimeProvider.System;
        try
        {
            Directory.CreateDirectory(_temporaryDirectory);
            Directory.CreateDirectory(_leaseDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot use {RootDirectory} as a blob store folder: {e.Message}", e);
        }
        RemoveStaleTemporaryFiles();
    }

    /// <summary>The absolute folder that holds the blobs.</summary>
    public string RootDirectory { get; }

    public string Location => $"local folder {RootDirectory}";

    /// <summary>The file that holds the blob under <paramref name="key"/>.</summary>
    public string PathOf(string key)
    {
        BlobKey.Validate(key);
        return Path.Combine(RootDirectory, key.Replace('/', Path.DirectorySeparatorChar));
    }

    public Task<bool> ExistsAsync(string key, CancellationToken cancellationToken = default) =>
        Task.FromResult(File.Exists(PathOf(key)));

    public Task<BlobInfo?> GetInfoAsync(string key, CancellationToken cancellationToken = default)
    {
        var file = new FileInfo(PathOf(key));
        return Task.FromResult(file.Exists ? InfoOf(key, file) : null);
    }

    public async Task<BlobContent?> TryReadAllAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        try
        {
            // The open handle keeps the content it opened if a writer renames a new file over the path meanwhile.
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            // Properties of the open file itself, not of whatever the path names by now.
            var written = File.GetLastWriteTimeUtc(stream.SafeFileHandle);
            var content = new byte[stream.Length];
            await stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            return new BlobContent(new BlobInfo(key, content.Length, new DateTimeOffset(written, TimeSpan.Zero), ETagOf(written, content.Length)), content);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException
                                  || (e is UnauthorizedAccessException && Directory.Exists(path)))
        {
            return null;
        }
    }

    public async Task<BlobContent?> TryReadRangeAsync(string key, long offset, int length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var path = PathOf(key);
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 1, FileOptions.Asynchronous);
            var written = File.GetLastWriteTimeUtc(stream.SafeFileHandle);
            var size = stream.Length;
            var content = new byte[(int)Math.Clamp(size - offset, 0, length)];
            stream.Position = Math.Min(offset, size);
            await stream.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
            return new BlobContent(new BlobInfo(key, size, new DateTimeOffset(written, TimeSpan.Zero), ETagOf(written, size)), content);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException
                                  || (e is UnauthorizedAccessException && Directory.Exists(path)))
        {
            return null;
        }
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        try
        {
            // A writer renames a new file over this path; the open stream keeps reading the content it opened.
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException
                                  || (e is UnauthorizedAccessException && Directory.Exists(path)))
        {
            throw new BlobNotFoundException(key, Location, e);
        }
    }

    public async Task<BlobInfo> UploadAsync(string key, Stream content, BlobWriteCondition? condition = null,
        CancellationToken cancellationToken = default)
    {
        BlobKey.Validate(key);
        ArgumentNullException.ThrowIfNull(content);
        var temporary = NewTemporaryPath();
        try
        {
            await using (var file = CreateTemporaryFile(temporary))
            {
                await content.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            return await CommitAsync(key, temporary, condition, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task UploadFileAsync(string key, string path, CancellationToken cancellationToken = default)
    {
        BlobKey.Validate(key);
        await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read,
            bufferSize: 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await UploadAsync(key, source, condition: null, cancellationToken).ConfigureAwait(false);
    }

    public async Task DownloadToFileAsync(string key, string path, CancellationToken cancellationToken = default)
    {
        await using var source = await OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        await LocalFiles.WriteAtomicallyAsync(path, source, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<BlobInfo> ListAsync(string prefix,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        BlobKey.ValidatePrefix(prefix);
        // Walking a folder tree is blocking file-system work; keep it off the caller's thread.
        var blobs = await Task.Run(() => Snapshot(prefix), cancellationToken).ConfigureAwait(false);
        foreach (var blob in blobs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return blob;
        }
    }

    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        await using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
        {
            ThrowIfLeased(key, "deleted");
            File.Delete(LeaseFileOf(key)); // an expired lease dies with its blob
            if (!File.Exists(path))
            {
                return false;
            }
            File.Delete(path);
            return true;
        }
    }

    public async Task<IBlobLease> AcquireLeaseAsync(string key, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        BlobLeaseDuration.Validate(duration);
        await using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
        {
            var now = _time.GetUtcNow();
            var current = ReadLease(key);
            if (current is not null && current.ExpiresAt > now)
            {
                throw new BlobLeaseConflictException(key,
                    $"Blob '{key}' in {Location} is already leased by {current.Owner} until {current.ExpiresAt:O}.");
            }
            if (!File.Exists(path))
            {
                // Like Azure, a lease needs a blob to hold it: create an empty one.
                var temporary = NewTemporaryPath();
                try
                {
                    await using (CreateTemporaryFile(temporary))
                    {
                    }
                    MoveIntoPlace(key, temporary, path);
                }
                finally
                {
                    File.Delete(temporary);
                }
            }
            var lease = new LeaseRecord(key, Guid.NewGuid().ToString("D"), now + duration, Owner);
            WriteLease(lease);
            return new LocalBlobLease(this, key, lease.LeaseId, duration, lease.ExpiresAt);
        }
    }

    internal async Task<DateTimeOffset> RenewLeaseAsync(string key, string leaseId, TimeSpan duration,
        CancellationToken cancellationToken)
    {
        await using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
        {
            // As in Azure, an expired lease can still be renewed as long as nobody else has taken the key.
            var current = ReadLease(key);
            if (current is null || current.LeaseId != leaseId)
            {
                throw new BlobLeaseLostException(key, Location);
            }
            var renewed = current with { ExpiresAt = _time.GetUtcNow() + duration };
            WriteLease(renewed);
            return renewed.ExpiresAt;
        }
    }

    internal async Task ReleaseLeaseAsync(string key, string leaseId, CancellationToken cancellationToken)
    {
        await using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
        {
            var current = ReadLease(key);
            if (current is null || current.LeaseId != leaseId)
            {
                throw new BlobLeaseLostException(key, Location);
            }
            File.Delete(LeaseFileOf(key));
        }
    }

    private async Task<BlobInfo> CommitAsync(string key, string temporary, BlobWriteCondition? condition,
        CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        await using (await _locks.AcquireAsync(key, cancellationToken).ConfigureAwait(false))
        {
            ThrowIfLeased(key, "written");
            var current = new FileInfo(path);
            if (condition is not null)
            {
                var holds = condition.RequiresAbsence
                    ? !current.Exists
                    : current.Exists && ETagOf(current) == condition.RequiredETag;
                if (!holds)
                {
                    throw new BlobConditionFailedException(key, condition, Location);
                }
            }
            if (current.Exists)
            {
                MakeLaterThan(temporary, current.LastWriteTimeUtc);
            }
            MoveIntoPlace(key, temporary, path);
            return InfoOf(key, new FileInfo(path));
        }
    }

    /// <summary>
    /// Gives the new content a modification time strictly after the one it replaces, so that its ETag
    /// differs even when two writes of equal size land within one timestamp tick (or the clock stepped back).
    /// </summary>
    private static void MakeLaterThan(string temporary, DateTime replacedWriteTimeUtc)
    {
        if (File.GetLastWriteTimeUtc(temporary) > replacedWriteTimeUtc)
        {
            return;
        }
        // 1 ms suffices for nanosecond/millisecond timestamps; 2 s covers file systems with coarse ones.
        foreach (var step in new[] { TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(2) })
        {
            File.SetLastWriteTimeUtc(temporary, replacedWriteTimeUtc + step);
            if (File.GetLastWriteTimeUtc(temporary) > replacedWriteTimeUtc)
            {
                return;
            }
        }
    }

    private void MoveIntoPlace(string key, string temporary, string path)
    {
        if (Directory.Exists(path))
        {
            throw new BlobStoreException(key,
                $"Blob '{key}' cannot be written in {Location}: {path} is a folder of other blobs, and a local folder cannot hold a blob and a folder of the same name.");
        }
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            // rename(2): atomic replacement within one file system (the temporary folder is inside the root).
            File.Move(temporary, path, overwrite: true);
        }
        catch (IOException e)
        {
            throw new BlobStoreException(key,
                $"Blob '{key}' cannot be written in {Location} ({e.Message}). If a part of its path is itself a blob, note that a local folder cannot hold a blob and a folder of the same name.", e);
        }
    }

    private void ThrowIfLeased(string key, string operation)
    {
        var lease = ReadLease(key);
        if (lease is not null && lease.ExpiresAt > _time.GetUtcNow())
        {
            throw new BlobLeaseConflictException(key,
                $"Blob '{key}' in {Location} cannot be {operation}: it is leased by {lease.Owner} until {lease.ExpiresAt:O}.");
        }
    }

    private string LeaseFileOf(string key)
    {
        // Hashed names keep lease files in one flat folder whatever the key's length or depth.
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return Path.Combine(_leaseDirectory, hash[..32] + ".json");
    }

    private LeaseRecord? ReadLease(string key)
    {
        var path = LeaseFileOf(key);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<LeaseRecord>(json)
                   ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new BlobStoreException(key,
                $"The lease file {path} for blob '{key}' is not a valid lease record ({e.Message}); delete it if no process owns the key.", e);
        }
    }

    private void WriteLease(LeaseRecord lease)
    {
        var temporary = NewTemporaryPath();
        try
        {
            File.WriteAllText(temporary, JsonSerializer.Serialize(lease));
            File.Move(temporary, LeaseFileOf(lease.Key), overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private string NewTemporaryPath() => Path.Combine(_temporaryDirectory, Guid.NewGuid().ToString("N") + ".tmp");

    private static FileStream CreateTemporaryFile(string path) =>
        new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 81920, FileOptions.Asynchronous);

    private void RemoveStaleTemporaryFiles()
    {
        // Files left by writers that crashed between writing and renaming; a day-old one is nobody's.
        var cutoff = DateTime.UtcNow - StaleTemporaryFileAge;
        foreach (var file in new DirectoryInfo(_temporaryDirectory).EnumerateFiles())
        {
            if (file.LastWriteTimeUtc < cutoff)
            {
                try
                {
                    file.Delete();
                }
                catch (IOException)
                {
                    // Another store instance removed it first, or it is in use: either way not ours to fuss over.
                }
            }
        }
    }

    private List<BlobInfo> Snapshot(string prefix)
    {
        var lastSlash = prefix.LastIndexOf('/');
        var folder = lastSlash <= 0
            ? RootDirectory
            : Path.Combine(RootDirectory, prefix[..lastSlash].Replace('/', Path.DirectorySeparatorChar));
        if (!Directory.Exists(folder))
        {
            return [];
        }
        var root = RootDirectory;
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = 0, // dot files are blobs too
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        };
        var entries = new FileSystemEnumerable<(string Path, long Size, DateTime WriteTimeUtc)>(folder,
            (ref FileSystemEntry entry) => (entry.ToFullPath(), entry.Length, entry.LastWriteTimeUtc.UtcDateTime), options)
        {
            ShouldIncludePredicate = (ref FileSystemEntry entry) => !entry.IsDirectory,
            ShouldRecursePredicate = (ref FileSystemEntry entry) =>
                !(entry.FileName.SequenceEqual(BlobKey.ReservedFolder) && entry.Directory.SequenceEqual(root)),
        };
        var blobs = new List<BlobInfo>();
        foreach (var (path, size, writeTimeUtc) in entries)
        {
            var key = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            // Files whose names are not valid keys were not written through a store; they are not blobs.
            if (key.StartsWith(prefix, StringComparison.Ordinal) && BlobKey.IsValid(key))
            {
                blobs.Add(new BlobInfo(key, size, new DateTimeOffset(writeTimeUtc, TimeSpan.Zero), ETagOf(writeTimeUtc, size)));
            }
        }
        blobs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return blobs;
    }

    private static BlobInfo InfoOf(string key, FileInfo file) =>
        new(key, file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero), ETagOf(file));

    private static string ETagOf(FileInfo file) => ETagOf(file.LastWriteTimeUtc, file.Length);

    private static string ETagOf(DateTime writeTimeUtc, long size) => $"\"{writeTimeUtc.Ticks:x}-{size:x}\"";

    private sealed record LeaseRecord(string Key, string LeaseId, DateTimeOffset ExpiresAt, string Owner);
}

/// <summary>A lease held through a lease file of a <see cref="LocalFolderBlobStore"/>.</summary>
internal sealed class LocalBlobLease(LocalFolderBlobStore store, string key, string leaseId, TimeSpan duration,
    DateTimeOffset expiresAt) : IBlobLease
{
    private bool _released;

    public string Key { get; } = key;
    public string LeaseId { get; } = leaseId;
    public TimeSpan Duration { get; } = duration;
    public DateTimeOffset ExpiresAt { get; private set; } = expiresAt;

    public async Task RenewAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_released, this);
        ExpiresAt = await store.RenewLeaseAsync(Key, LeaseId, Duration, cancellationToken).ConfigureAwait(false);
    }

    public async Task ReleaseAsync(CancellationToken cancellationToken = default)
    {
        if (_released)
        {
            return;
        }
        await store.ReleaseLeaseAsync(Key, LeaseId, cancellationToken).ConfigureAwait(false);
        _released = true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is BlobLeaseLostException or IOException)
        {
            // Lost already, or the folder is unavailable: the lease file expires by itself.
        }
        _released = true;
    }
}
