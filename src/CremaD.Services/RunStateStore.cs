using CremaD.Contracts;
using CremaD.Storage;

namespace CremaD.Services;

/// <summary>
/// Durable run state: one <c>runs/&lt;id&gt;/status.json</c> blob per run, a <see cref="RunStatus"/> changed only by
/// read-modify-write under optimistic concurrency (IfMatch on the ETag read, IfNoneExists on creation, retried on
/// conflict). Any number of coordinator replicas may fold events into it concurrently, and a restart loses nothing:
/// the blob is the state.
/// </summary>
public sealed class RunStateStore(IBlobStore store)
{
    /// <summary>Name of the status blob inside a run's prefix.</summary>
    public const string StatusFileName = "status.json";

    /// <summary>Conflicting writers are retried this many times before giving up (the message is then redelivered).</summary>
    public const int MaxAttempts = 50;

    public IBlobStore Blobs => store;

    public static string StatusKey(Guid runId) => BlobLayout.RunPrefix(runId) + StatusFileName;

    /// <summary>The run's status, or null when the run is unknown.</summary>
    public async Task<RunStatus?> GetAsync(Guid runId, CancellationToken cancellationToken = default)
    {
        try
        {
            return await store.ReadJsonAsync<RunStatus>(StatusKey(runId), ServiceJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Every run with a status, newest submission first.</summary>
    public async Task<IReadOnlyList<RunStatus>> ListAsync(CancellationToken cancellationToken = default)
    {
        var runs = new List<RunStatus>();
        await foreach (var blob in store.ListAsync(BlobLayout.RunsFolder + "/", cancellationToken).ConfigureAwait(false))
        {
            if (!blob.Key.EndsWith("/" + StatusFileName, StringComparison.Ordinal)) continue;
            var segments = blob.Key.Split('/');
            if (segments.Length != 3 || !Guid.TryParseExact(segments[1], "N", out var runId)) continue;
            if (await GetAsync(runId, cancellationToken).ConfigureAwait(false) is { } status) runs.Add(status);
        }
        return runs.OrderByDescending(r => r.Timestamps.SubmittedAt).ToList();
    }

    /// <summary>
    /// Applies <paramref name="update"/> to the current status (null when there is none) and stores the result,
    /// retrying from a fresh read when another writer got in between. Returning the same instance (or null)
    /// writes nothing. Returns the status before and after.
    /// </summary>
    public async Task<(RunStatus? Before, RunStatus? After)> UpdateAsync(Guid runId, Func<RunStatus?, RunStatus?> update,
        CancellationToken cancellationToken = default)
    {
        var key = StatusKey(runId);
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
            // The ETag is the one read before the content: if anyone wrote after it, the write is refused.
            var condition = info is null ? BlobWriteCondition.IfNoneExists : BlobWriteCondition.IfMatch(info.ETag);
            try
            {
                await store.WriteJsonAsync(key, next, ServiceJson.Options, condition, cancellationToken).ConfigureAwait(false);
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
            FeatureStageStatus.NotStarted, TrainingStageStatus.NotStarted, null, [], [], []);
}
