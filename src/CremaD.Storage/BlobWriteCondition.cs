namespace CremaD.Storage;

/// <summary>
/// A precondition for <see cref="IBlobStore.UploadAsync"/> that makes writes optimistic-concurrency safe:
/// when it does not hold at the moment of the write, nothing is written and
/// <see cref="BlobConditionFailedException"/> is thrown.
/// </summary>
public sealed class BlobWriteCondition
{
    private BlobWriteCondition(string? requiredETag) => RequiredETag = requiredETag;

    /// <summary>Write only if no blob exists under the key (create, never overwrite).</summary>
    public static BlobWriteCondition IfNoneExists { get; } = new(null);

    /// <summary>Write only if the blob exists and its current ETag is <paramref name="etag"/>.</summary>
    public static BlobWriteCondition IfMatch(string etag)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(etag);
        return new BlobWriteCondition(etag);
    }

    /// <summary>The ETag the blob must have, or null for <see cref="IfNoneExists"/>.</summary>
    public string? RequiredETag { get; }

    /// <summary>True for <see cref="IfNoneExists"/>.</summary>
    public bool RequiresAbsence => RequiredETag is null;

    public override string ToString() => RequiresAbsence ? "if none exists" : $"if ETag matches {RequiredETag}";
}
