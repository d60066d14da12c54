using System.Collections.Concurrent;
using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>
/// Failed attempts in a row per training request, and what follows from them: a retry after an exponential back-off
/// (<see cref="TrainerOptions.RetryDelay"/> doubled per failure, up to <see cref="TrainerOptions.MaxRetryDelay"/>),
/// and after <see cref="TrainerOptions.MaxConsecutiveFailures"/> failures with no epoch finished in between, the run
/// failed with the last error as the reason and its request dropped. This worker's memory: a restarted trainer starts
/// counting afresh.
/// </summary>
public sealed class TrainingFailureLedger(IBlobStore blobs, IBus bus, TrainerOptions options, ILogger<TrainingFailureLedger> logger)
{
    private readonly ConcurrentDictionary<string, AttemptFailures> _failures = new(StringComparer.Ordinal);

    /// <param name="Count">Consecutive failed attempts.</param>
    /// <param name="RetryAt">No attempt before this time.</param>
    /// <param name="Reported">The run has been failed (RunFailed published): it is not trained again, only its request dropped.</param>
    private sealed record AttemptFailures(int Count, DateTimeOffset RetryAt, TrainingStepException Last, bool Reported);

    /// <summary>Forgets the requests that are no longer in the work list.</summary>
    public void KeepOnly(IEnumerable<string> pendingRequestKeys)
    {
        foreach (var gone in _failures.Keys.Except(pendingRequestKeys, StringComparer.Ordinal)) _failures.TryRemove(gone, out _);
    }

    /// <summary>The request was done, dropped, or moved on (an epoch finished): earlier failures no longer count.</summary>
    public void Forget(string requestKey) => _failures.TryRemove(requestKey, out _);

    /// <summary>
    /// Whether the request may be attempted now: not while its back-off lasts; and when its attempts have run out, it is
    /// given up on (its run failed, its request dropped) instead.
    /// </summary>
    public async Task<bool> MayAttemptAsync(string requestKey, CancellationToken cancellationToken)
    {
        if (!_failures.TryGetValue(requestKey, out var failures)) return true;
        if (DateTimeOffset.UtcNow < failures.RetryAt) return false;
        if (failures.Count < options.MaxConsecutiveFailures) return true;
        await GiveUpAsync(requestKey, failures, cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>Counts a failed attempt and schedules the next one; logs what failed; gives up when the attempts ran out.</summary>
    public Task RecordFailureAsync(string requestKey, TrainingStepException failure, CancellationToken cancellationToken)
    {
        var count = (_failures.TryGetValue(requestKey, out var previous) ? previous.Count : 0) + 1;
        var delay = TimeSpan.FromTicks(Math.Min(options.MaxRetryDelay.Ticks,
            (long)Math.Min(long.MaxValue / 2, options.RetryDelay.Ticks * Math.Pow(2, count - 1))));
        var failures = new AttemptFailures(count, DateTimeOffset.UtcNow + delay, failure, Reported: false);
        _failures[requestKey] = failures;
        if (count < options.MaxConsecutiveFailures)
        {
            logger.LogWarning(failure.InnerException, "Training attempt {Count} of {Max} for {Request} failed: {Reason}; retrying in {Delay}.",
                count, options.MaxConsecutiveFailures, requestKey, failure.Message, delay);
            return Task.CompletedTask;
        }
        return GiveUpAsync(requestKey, failures, cancellationToken);
    }

    /// <summary>
    /// The attempts on a request ran out: fails its run with the last error (once) and drops the request. When the
    /// broker or storage refuses that too, the next pass tries again after the back-off, and still does not train.
    /// </summary>
    private async Task GiveUpAsync(string requestKey, AttemptFailures failures, CancellationToken cancellationToken)
    {
        var runId = BlobLayout.RunIdOfTrainingRequestKey(requestKey);
        var reason = $"Training stopped after {failures.Count} consecutive failed attempts; the last: {failures.Last.Message}";
        try
        {
            if (!failures.Reported)
            {
                if (runId is { } id)
                {
                    logger.LogError(failures.Last.InnerException, "Run {RunId} fails: {Reason}", id, reason);
                    await bus.Publish(new RunFailed(id, RunStage.Training, reason, failures.Last.InnerException?.GetType().FullName, DateTimeOffset.UtcNow),
                        cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    logger.LogError("The request {Request} names no run and cannot be trained: {Reason}", requestKey, reason);
                }
                failures = failures with { Reported = true };
                _failures[requestKey] = failures;
            }
            await blobs.DeleteAsync(requestKey, cancellationToken).ConfigureAwait(false);
            _failures.TryRemove(requestKey, out _);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Could not fail the run of {Request} yet; trying again in {Delay}.", requestKey, options.MaxRetryDelay);
            _failures[requestKey] = failures with { RetryAt = DateTimeOffset.UtcNow + options.MaxRetryDelay };
        }
    }
}
