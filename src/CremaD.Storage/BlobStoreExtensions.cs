using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace CremaD.Storage;

/// <summary>Convenience operations on any <see cref="IBlobStore"/>: bytes, text, JSON, whole directories, leases.</summary>
public static class BlobStoreExtensions
{
    /// <summary>Default parallel transfers for directory uploads and downloads.</summary>
    public const int DefaultTransferParallelism = 4;

    private static readonly JsonSerializerOptions IndentedJson = new(JsonSerializerOptions.Default) { WriteIndented = true };

    public static async Task<byte[]> ReadBytesAsync(this IBlobStore store, string key, CancellationToken cancellationToken = default)
    {
        await using var stream = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    public static Task<BlobInfo> WriteBytesAsync(this IBlobStore store, string key, ReadOnlyMemory<byte> content,
        BlobWriteCondition? condition = null, CancellationToken cancellationToken = default)
    {
        // Copy-free for arrays; a read-only stream over the memory otherwise.
        var stream = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(content, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(content.ToArray(), writable: false);
        return UploadAndDisposeAsync(store, key, stream, condition, cancellationToken);
    }

    public static async Task<string> ReadTextAsync(this IBlobStore store, string key, CancellationToken cancellationToken = default)
    {
        await using var stream = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
    }

    public static Task<BlobInfo> WriteTextAsync(this IBlobStore store, string key, string text,
        BlobWriteCondition? condition = null, CancellationToken cancellationToken = default) =>
        store.WriteBytesAsync(key, System.Text.Encoding.UTF8.GetBytes(text), condition, cancellationToken);

    /// <summary>Reads a JSON blob as <typeparamref name="T"/>.</summary>
    /// <exception cref="BlobNotFoundException">No blob exists under the key.</exception>
    /// <exception cref="InvalidDataException">The blob is not valid JSON for <typeparamref name="T"/> (the message names the key).</exception>
    public static async Task<T> ReadJsonAsync<T>(this IBlobStore store, string key, JsonSerializerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        await using var stream = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync<T>(stream, options, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw NotJson<T>(store, key, e);
        }
        return value ?? throw NullJson<T>(store, key);
    }

    /// <summary>Reads a JSON blob with source-generated metadata.</summary>
    public static async Task<T> ReadJsonAsync<T>(this IBlobStore store, string key, JsonTypeInfo<T> typeInfo,
        CancellationToken cancellationToken = default)
    {
        await using var stream = await store.OpenReadAsync(key, cancellationToken).ConfigureAwait(false);
        T? value;
        try
        {
            value = await JsonSerializer.DeserializeAsync(stream, typeInfo, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw NotJson<T>(store, key, e);
        }
        return value ?? throw NullJson<T>(store, key);
    }

    /// <summary>Writes <paramref name="value"/> as JSON (indented unless <paramref name="options"/> say otherwise).</summary>
    public static Task<BlobInfo> WriteJsonAsync<T>(this IBlobStore store, string key, T value,
        JsonSerializerOptions? options = null, BlobWriteCondition? condition = null, CancellationToken cancellationToken = default) =>
        store.WriteBytesAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, options ?? IndentedJson), condition, cancellationToken);

    /// <summary>Writes <paramref name="value"/> as JSON with source-generated metadata.</summary>
    public static Task<BlobInfo> WriteJsonAsync<T>(this IBlobStore store, string key, T value, JsonTypeInfo<T> typeInfo,
        BlobWriteCondition? condition = null, CancellationToken cancellationToken = default) =>
        store.WriteBytesAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), condition, cancellationToken);

    /// <summary>Takes the lease if it is free; null when another owner holds it.</summary>
    public static async Task<IBlobLease?> TryAcquireLeaseAsync(this IBlobStore store, string key, TimeSpan duration,
        CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.AcquireLeaseAsync(key, duration, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobLeaseConflictException)
        {
            return null;
        }
    }

    /// <summary>
    /// Uploads every file under <paramref name="localDirectory"/> (recursively, dot files included) to
    /// <c>&lt;prefix&gt;/&lt;relative path&gt;</c>, up to <paramref name="maxParallelism"/> files at a time.
    /// </summary>
    /// <returns>The keys written, in ordinal order.</returns>
    public static async Task<IReadOnlyList<string>> UploadDirectoryAsync(this IBlobStore store, string localDirectory,
        string prefix, int maxParallelism = DefaultTransferParallelism, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallelism, 1);
        var folderPrefix = BlobKey.AsFolderPrefix(prefix);
        var root = Path.GetFullPath(localDirectory);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"Cannot upload the directory {root}: it does not exist.");
        }
        var files = Directory.EnumerateFiles(root, "*", new EnumerationOptions
            {
                RecurseSubdirectories = true,
                AttributesToSkip = 0,
                IgnoreInaccessible = false,
            })
            .Select(path => (Path: path, Key: folderPrefix + Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/')))
            .ToList();
        foreach (var file in files)
        {
            if (!BlobKey.IsValid(file.Key))
            {
                BlobKey.Validate(file.Key, $"file {file.Path}");
            }
        }
        await Parallel.ForEachAsync(files,
            new ParallelOptions { MaxDegreeOfParallelism = maxParallelism, CancellationToken = cancellationToken },
            async (file, ct) => await store.UploadFileAsync(file.Key, file.Path, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return files.Select(file => file.Key).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Downloads every blob under the folder <paramref name="prefix"/> ("" for all) into
    /// <paramref name="localDirectory"/>, keeping the relative paths, up to <paramref name="maxParallelism"/>
    /// files at a time, or only those whose path relative to the folder <paramref name="include"/> accepts. Each file
    /// appears complete or not at all.
    /// </summary>
    /// <returns>The local files written, in ordinal order of their keys.</returns>
    public static async Task<IReadOnlyList<string>> DownloadDirectoryAsync(this IBlobStore store, string prefix,
        string localDirectory, int maxParallelism = DefaultTransferParallelism, CancellationToken cancellationToken = default,
        Func<string, bool>? include = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallelism, 1);
        var folderPrefix = BlobKey.AsFolderPrefix(prefix);
        var root = Path.GetFullPath(localDirectory);
        var blobs = new List<(string Key, string Path)>();
        await foreach (var blob in store.ListAsync(folderPrefix, cancellationToken).ConfigureAwait(false))
        {
            if (include is not null && !include(blob.Key[folderPrefix.Length..])) continue;
            // Keys are validated relative paths without "..", so every target stays under the root.
            var relative = blob.Key[folderPrefix.Length..].Replace('/', Path.DirectorySeparatorChar);
            blobs.Add((blob.Key, Path.Combine(root, relative)));
        }
        Directory.CreateDirectory(root);
        await Parallel.ForEachAsync(blobs,
            new ParallelOptions { MaxDegreeOfParallelism = maxParallelism, CancellationToken = cancellationToken },
            async (blob, ct) => await store.DownloadToFileAsync(blob.Key, blob.Path, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return blobs.Select(blob => blob.Path).ToList();
    }

    private static InvalidDataException NotJson<T>(IBlobStore store, string key, JsonException e) =>
        new($"Blob '{key}' in {store.Location} is not valid JSON for {typeof(T).Name}: {e.Message}", e);

    private static InvalidDataException NullJson<T>(IBlobStore store, string key) =>
        new($"Blob '{key}' in {store.Location} holds JSON null, not a {typeof(T).Name}.");

    private static async Task<BlobInfo> UploadAndDisposeAsync(IBlobStore store, string key, Stream stream,
        BlobWriteCondition? condition, CancellationToken cancellationToken)
    {
        await using (stream)
        {
            return await store.UploadAsync(key, stream, condition, cancellationToken).ConfigureAwait(false);
        }
    }
}
