namespace CremaD.Storage;

/// <summary>What a blob store knows about one stored blob.</summary>
/// <param name="Key">The blob's key: a '/'-separated relative path such as <c>runs/42/history.json</c>.</param>
/// <param name="Size">Content length in bytes.</param>
/// <param name="LastModified">When the blob was last written.</param>
/// <param name="ETag">
/// Opaque version token, changed by every write; pass it to <see cref="BlobWriteCondition.IfMatch"/>
/// to write only if nobody else has written since it was read.
/// </param>
public sealed record BlobInfo(string Key, long Size, DateTimeOffset LastModified, string ETag);

/// <summary>A blob read whole: its content and what the store knows about it (the version the content is of).</summary>
public sealed record BlobContent(BlobInfo Info, ReadOnlyMemory<byte> Content);
