using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>
/// Failed attempts in a row per training request, and when the next may start: after an exponential back-off
/// (<see cref="TrainerOptions.RetryDelay"/> doubled per failure, capped at <see cref="TrainerOptions.MaxRetryDelay"/>).
/// A failed attempt is a <see cref="TrainingStepException"/>, storage or the broker being unavailable, which says nothing
/// about the run: it is retried for as long as the outage lasts, each attempt resuming from the last committed checkpoint,
/// and never fails the run. (What does fail a run: a training error, at once; a trainer process that dies during the
/// run's training too often, <see cref="TrainingAttempts"/>.) This worker's memory: a restarted trainer retries at once.
/// </summary>
public sealed class TrainingFailureLedger(TrainerOptions options, ILogger<TrainingFailureLedger> logger)
{
    private readonly ConcurrentDictionary<string, AttemptFailures> _failures = new(StringComparer.Ordinal);

    /// <param name="Count">Consecutive failed attempts.</param>
    /// <param name="RetryAt">No attempt before this time.</param>
    private sealed record AttemptFailures(int Count, DateTimeOffset RetryAt);

    /// <summary>Forgets the requests that are no longer in the work list.</summary>
    public void KeepOnly(IEnumerable<string> pendingRequestKeys)
    {
        foreach (var gone in _failures.Keys.Except(pendingRequestKeys, StringComparer.Ordinal)) _failures.TryRemove(gone, out _);
    }

    /// <summary>The request was done, dropped, or moved on (an epoch finished): the back-off starts again from its first delay.</summary>
    public void Forget(string requestKey) => _failures.TryRemove(requestKey, out _);

    /// <summary>Whether the request may be attempted now: not while its back-off lasts.</summary>
    public bool MayAttempt(string requestKey) => !_failures.TryGetValue(requestKey, out var failures) || DateTimeOffset.UtcNow >= failures.RetryAt;

    /// <summary>Counts a failed attempt, schedules the next one and logs what failed.</summary>
    public void RecordFailure(string requestKey, TrainingStepException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var count = (_failures.TryGetValue(requestKey, out var previous) ? previous.Count : 0) + 1;
        var delay = RetryDelay(count);
        _failures[requestKey] = new AttemptFailures(count, DateTimeOffset.UtcNow + delay);
        logger.LogWarning(failure.InnerException, "Training attempt for {Request} failed ({Count} in a row): {Reason}; retrying in {Delay}.",
            requestKey, count, failure.Message, delay);
    }

    /// <summary>The wait after the <paramref name="failures"/>-th failure in a row: the first delay doubled per earlier failure, capped.</summary>
    public TimeSpan RetryDelay(int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        // 2^62 ticks is beyond any cap; the exponent is bounded so that the doubling never overflows.
        var doubled = options.RetryDelay.Ticks * Math.Pow(2, Math.Min(failures - 1, 62));
        return TimeSpan.FromTicks((long)Math.Min(options.MaxRetryDelay.Ticks, doubled));
    }
}
