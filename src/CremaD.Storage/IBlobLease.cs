namespace CremaD.Storage;

/// <summary>
/// An exclusive, time-limited claim on one key, for single-owner work (a trainer owning a run).
/// The owner must renew it before <see cref="ExpiresAt"/>; a lease that is not renewed expires and another
/// owner may then acquire the key. While a lease is active, writes and deletes of the leased blob by anyone
/// fail with <see cref="BlobLeaseConflictException"/>, so lease a dedicated lock key (for example
/// <c>runs/&lt;id&gt;/owner.lease</c>), not a blob that holds data.
/// Disposing releases the lease; a failure to release on dispose is ignored because the lease expires anyway.
/// </summary>
public interface IBlobLease : IAsyncDisposable
{
    /// <summary>The leased key.</summary>
    string Key { get; }

    /// <summary>This owner's lease id.</summary>
    string LeaseId { get; }

    /// <summary>How long the lease lasts after each acquire or renew.</summary>
    TimeSpan Duration { get; }

    /// <summary>When the lease expires unless renewed, by this process's clock (taken before the request).</summary>
    DateTimeOffset ExpiresAt { get; }

    /// <summary>Extends the lease by <see cref="Duration"/> from now.</summary>
    /// <exception cref="BlobLeaseLostException">The lease is no longer this owner's.</exception>
    Task RenewAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends the lease so another owner may acquire the key at once.</summary>
    /// <exception cref="BlobLeaseLostException">The lease is no longer this owner's.</exception>
    Task ReleaseAsync(CancellationToken cancellationToken = default);
}

/// <summary>Lease durations every store accepts (the Azure Blob limits: 15 to 60 seconds).</summary>
public static class BlobLeaseDuration
{
    public static readonly TimeSpan Minimum = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan Maximum = TimeSpan.FromSeconds(60);

    /// <summary>Throws when <paramref name="duration"/> is outside [<see cref="Minimum"/>, <see cref="Maximum"/>].</summary>
    public static void Validate(TimeSpan duration)
    {
        if (duration < Minimum || duration > Maximum)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration,
                $"A blob lease lasts between {Minimum.TotalSeconds:0} and {Maximum.TotalSeconds:0} seconds (the Azure Blob limits); renew it to hold it longer.");
        }
    }
}
