namespace CremaD.Storage;

/// <summary>A blob store operation failed for a reason that concerns one key.</summary>
public class BlobStoreException : Exception
{
    public BlobStoreException(string key, string message, Exception? innerException = null)
        : base(message, innerException) => Key = key;

    /// <summary>The key the failed operation was about.</summary>
    public string Key { get; }
}

/// <summary>No blob exists under the key.</summary>
public sealed class BlobNotFoundException(string key, string location, Exception? innerException = null)
    : BlobStoreException(key, $"Blob '{key}' was not found in {location}.", innerException);

/// <summary>A conditional write was refused because its <see cref="BlobWriteCondition"/> did not hold.</summary>
public sealed class BlobConditionFailedException(
    string key, BlobWriteCondition condition, string location, Exception? innerException = null)
    : BlobStoreException(key, DescribeFailure(key, condition, location), innerException)
{
    /// <summary>The condition that did not hold.</summary>
    public BlobWriteCondition Condition { get; } = condition;

    private static string DescribeFailure(string key, BlobWriteCondition condition, string location) =>
        condition.RequiresAbsence
            ? $"Blob '{key}' already exists in {location}; it was written on condition that none existed."
            : $"Blob '{key}' in {location} is missing or was changed by another writer: its ETag is no longer {condition.RequiredETag}.";
}

/// <summary>
/// The key is leased by another owner: acquiring a lease on it failed, or a write or delete was refused
/// because an active lease protects the blob.
/// </summary>
public sealed class BlobLeaseConflictException(string key, string message, Exception? innerException = null)
    : BlobStoreException(key, message, innerException);

/// <summary>
/// A lease could not be renewed or released because it is no longer this owner's: it expired and another
/// owner acquired the key, or it was released already.
/// </summary>
public sealed class BlobLeaseLostException(string key, string location, Exception? innerException = null)
    : BlobStoreException(key, $"The lease on blob '{key}' in {location} has been lost: it expired and another owner took it, or it was released.", innerException);
