using CremaD.Contracts;
using CremaD.Storage;

namespace CremaD.Runs;

/// <summary>
/// Durable run state: one <c>runs/&lt;id&gt;/status.json</c> blob per run, a <see cref="RunStatus"/> changed only by
/// read-modify-write under optimistic concurrency (IfMatch on the ETag read, IfNoneExists on creation, retried on
/// conflict). Any number of coordinator replicas may fold events into it concurrently, and a restart loses nothing:
/// the blob is the state. Beside it, an empty index blob per run (<see cref="BlobLayout.RunIndexKey"/>), named so that a listing
/// returns the newest submission first, lets <see cref="ListAsync"/> find the runs without listing their folders, which
/// hold models, checkpoints and artefacts.
/// </summary>
public sealed class RunStateStore(IBlobStore store)
{
    /// <summary>Conflicting writers are retried this many times before giving up (the message is then redelivered).</summary>
    public const int MaxAttempts = 50;

    /// <summary>Status blobs <see cref="ListAsync"/> reads at once.</summary>
    private const int ReadParallelism = 8;

    public IBlobStore Blobs => store;

    /// <summary>The run's status, or null when the run is unknown.</summary>
    public async Task<RunStatus?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.ReadJsonAsync<RunStatus>(BlobLayout.RunStatusKey(runId), ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The runs with a status, newest submission first; at most <paramref name="limit"/> of them when given, and with
    /// <paramref name="after"/> only those submitted before that run (the next page). Lists only the run index (one
    /// small blob per run) and reads the status of the runs it returns.
    /// </summary>
    public async Task<IReadOnlyList<RunStatus>> ListAsync(int? limit = null, CancellationToken cancellationToken = default, Guid? after = null)
    {
        if (limit is < 1) throw new ArgumentOutOfRangeException(nameof(limit), limit, "The limit must be at least 1.");
        var keys = new List<string>();
        await foreach (var blob in store.ListAsync(BlobLayout.RunIndexPrefix, cancellationToken).ConfigureAwait(false))
        {
            keys.Add(blob.Key);
        }
        // Listings come in key order from Azure; sorting here keeps any store honest about "newest first".
        keys.Sort(StringComparer.Ordinal);
        var ids = keys.Select(BlobLayout.RunIdOfIndexKey).OfType<Guid>().Distinct().ToList();
        if (after is { } cursor)
        {
            var position = ids.IndexOf(cursor);
            ids = position < 0 ? [] : ids[(position + 1)..];
        }
        var runs = new List<RunStatus>();
        foreach (var chunk in ids.Chunk(ReadParallelism))
        {
            var statuses = await Task.WhenAll(chunk.Select(runId => GetAsync(runId, cancellationToken))).ConfigureAwait(false);
            // An entry whose status is not written yet (or was deleted) is skipped.
            runs.AddRange(statuses.OfType<RunStatus>());
            if (limit is { } max && runs.Count >= max) return runs.Take(max).ToList();
        }
        return runs;
    }

    /// <summary>
    /// Applies <paramref name="update"/> to the current status (null when there is none) and stores the result,
    /// retrying from a fresh read when another writer got in between. Returning the same instance (or null)
    /// writes nothing. Returns the status before and after.
    /// </summary>
    public async Task<(RunStatus? Before, RunStatus? After)> UpdateAsync(Guid runId, Func<RunStatus?, RunStatus?> update,
        CancellationToken cancellationToken = default)
    {
        var key = BlobLayout.RunStatusKey(runId);
        for (var attempt = 1; ; attempt++)
        {
            var info = await store.GetInfoAsync(key, cancellationToken).ConfigureAwait(false);
            RunStatus? current = null;
            if (info is not null)
            {
                try
                {
                    current = await store.ReadJsonAsync<RunStatus>(key, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
                }
                catch (BlobNotFoundException)
                {
                    continue; // deleted between the two calls: read again
                }
            }
            var next = update(current);
            if (next is null || ReferenceEquals(next, current)) return (current, current);
            if (info is null)
            {
                // Indexed before the status exists, so a status is never missing from the list; the entry of a status
                // that then fails to be written is skipped by ListAsync. Rewriting it is harmless (same key, empty).
                await store.WriteBytesAsync(BlobLayout.RunIndexKey(runId, next.Timestamps.SubmittedAt), Array.Empty<byte>(),
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                // In flight from before its status exists, for the same reason: the reconciler and the per-submitter
                // cap see every run that may still need work.
                if (!next.Stage.IsTerminal())
                {
                    await store.WriteBytesAsync(BlobLayout.RunInFlightKey(next.Submitter, runId), Array.Empty<byte>(),
                        cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            }
            // The ETag is the one read before the content: if anyone wrote after it, the write is refused.
            var condition = info is null ? BlobWriteCondition.IfNoneExists : BlobWriteCondition.IfMatch(info.ETag);
            try
            {
                await store.WriteJsonAsync(key, next, ServiceJson.Options, condition, cancellationToken).ConfigureAwait(false);
                if (next.Stage.IsTerminal() && current is not null && !current.Stage.IsTerminal())
                {
                    // Finished: no longer in flight. Should this delete fail, the reconciler removes the entry later.
                    await ForgetInFlightAsync(next, cancellationToken).ConfigureAwait(false);
                }
                return (current, next);
            }
            catch (BlobConditionFailedException) when (attempt < MaxAttempts)
            {
                // Another writer won; back off a little (jittered) and fold again on top of its result.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * Math.Min(attempt, 10))), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Folds <paramref name="runEvent"/> into the run's status. An event for an unknown run changes nothing.</summary>
    public Task<(RunStatus? Before, RunStatus? After)> ApplyAsync(IRunEvent runEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runEvent);
        return UpdateAsync(runEvent.RunId, current => current?.Apply(runEvent), cancellationToken);
    }

    /// <summary>
    /// The status of a run that has not been planned yet (submission accepted, dataset not listed): what the runs API
    /// shows between POST and the coordinator's first answer, and the base a failure before planning is folded into.
    /// </summary>
    public static RunStatus Pending(SubmitRun submit) =>
        new(submit.RunId, submit.Name, RunStage.Submitted, 0, submit.Dataset, submit.Config,
            new RunTimestamps(submit.SubmittedAt, null, null, null, null, null, null, submit.SubmittedAt),
            FeatureStageStatus.NotStarted, TrainingStageStatus.NotStarted, null, [], [], [], submit.Submitter);

    /// <summary>
    /// The runs in flight (<see cref="BlobLayout.RunsInFlightPrefix"/>): of one submitter, or of all when
    /// <paramref name="submitter"/> is null. An entry may outlive its run by a moment (see <see cref="UpdateAsync"/>);
    /// callers that act on it read the status.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> ListInFlightAsync(string? submitter, CancellationToken cancellationToken = default)
    {
        var prefix = submitter is null ? BlobLayout.RunsInFlightPrefix : BlobLayout.RunsInFlightPrefixOf(submitter);
        var runs = new List<Guid>();
        await foreach (var blob in store.ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (BlobLayout.RunIdOfInFlightKey(blob.Key) is { } runId) runs.Add(runId);
        }
        return runs;
    }

    /// <summary>Removes the in-flight entry of a finished run (one whose removal after its final write failed).</summary>
    public Task ForgetInFlightAsync(RunStatus status, CancellationToken cancellationToken = default) =>
        store.DeleteAsync(BlobLayout.RunInFlightKey(status.Submitter, status.RunId), cancellationToken);
}
