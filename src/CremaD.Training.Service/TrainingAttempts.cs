using System.Collections.Concurrent;
using System.Text.Json;
using CremaD.Contracts;
using CremaD.Storage;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>The content of a run's <see cref="BlobLayout.TrainingAttemptsKey"/>.</summary>
/// <param name="Deaths">
/// Attempts that started and never ended since the run last stored an epoch: the trainer process died during them (or
/// froze past its lease). Attempts that ended (done, stopped, a storage or broker failure) neither count nor reset it.
/// </param>
/// <param name="Last">The latest attempt.</param>
/// <param name="LastDeathStep">What the latest attempt that died was doing, for the run's failure reason.</param>
public sealed record TrainingAttemptsRecord(int Deaths, TrainingAttemptRecord? Last, string? LastDeathStep);

/// <summary>One attempt on a run.</summary>
/// <param name="Step">The last step it recorded, e.g. "training epoch 3 (epoch 2 stored)".</param>
/// <param name="EndedAt">When it ended; null while it runs, and for ever if its process died.</param>
/// <param name="Outcome">How it ended ("done", "stopped", the storage failure).</param>
public sealed record TrainingAttemptRecord(Guid Id, DateTimeOffset StartedAt, string Step, DateTimeOffset? EndedAt, string? Outcome);

/// <summary>
/// Counts, per run and in blob storage, the training attempts whose process died, so that a run whose training crashes
/// its trainer (out of memory, a native fault) is failed instead of being taken up again for ever, and so that the count
/// survives the restarts it is about. Every attempt is recorded when it starts, under the run's lease
/// (<see cref="StartAsync"/>), and marked ended when it ends in any way a process that lives on can see
/// (<see cref="TrainingAttempt.EndAsync"/>); an attempt found neither ended nor running by the next one died. After
/// <see cref="TrainerOptions.MaxCrashedAttempts"/> such deaths with no epoch stored in between
/// (<see cref="TrainingAttempt.RecordProgressAsync"/> resets the count), the next attempt does not start: the run is
/// failed with the reason.
/// </summary>
/// <remarks>
/// Writes are conditional on the ETag last seen, so two trainers never lose each other's changes. An attempt whose end
/// could not be written (storage down: the very outage it ended on) is remembered as ended by this process, so an
/// outage alone never adds deaths here; a process restarted after such an attempt does count it.
/// </remarks>
public sealed class TrainingAttempts(IBlobStore blobs, TrainerOptions options, ILogger<TrainingAttempts> logger)
{
    // Rewrites that may lose to another trainer in a row before starting gives up (a step failure, retried).
    private const int MaxStartRaces = 5;

    // Per run, the last attempt this process ended (whether or not that could be written).
    private readonly ConcurrentDictionary<Guid, Guid> _endedHere = new();

    /// <summary>
    /// Records a new attempt on the run, counting the previous one as dead if it never ended. Returns the attempt, or,
    /// when the run's attempts died <see cref="TrainerOptions.MaxCrashedAttempts"/> times in a row, no attempt and the
    /// reason the run is to be failed with.
    /// </summary>
    /// <exception cref="TrainingStepException">The record could not be read or written.</exception>
    public Task<(TrainingAttempt? Attempt, string? DiedTooOften)> StartAsync(Guid runId, CancellationToken cancellationToken)
    {
        var key = BlobLayout.TrainingAttemptsKey(runId);
        return TrainingStep.RunAsync<(TrainingAttempt?, string?)>($"recording the training attempt in '{key}'", async () =>
        {
            for (var race = 1; ; race++)
            {
                var current = await blobs.TryReadAllAsync(key, cancellationToken).ConfigureAwait(false);
                var record = current is null ? new TrainingAttemptsRecord(0, null, null) : Parse(key, current);
                var died = record.Last is { EndedAt: null } last && !(_endedHere.TryGetValue(runId, out var ended) && ended == last.Id);
                var deaths = record.Deaths + (died ? 1 : 0);
                var lastDeathStep = died ? record.Last!.Step : record.LastDeathStep;
                if (died)
                {
                    logger.LogWarning("Run {RunId}: the attempt started at {StartedAt} never ended; its trainer died while {Step} ({Deaths} of {Max}).",
                        runId, record.Last!.StartedAt, record.Last.Step, deaths, options.MaxCrashedAttempts);
                }
                if (deaths >= options.MaxCrashedAttempts)
                {
                    return (null, $"The trainer process died {deaths} times during this run's training (attempts that started and "
                        + $"never ended, with no epoch stored in between); the last one died while {lastDeathStep ?? "starting"}.");
                }
                var started = new TrainingAttemptsRecord(deaths, new TrainingAttemptRecord(Guid.NewGuid(), DateTimeOffset.UtcNow, "starting", null, null),
                    lastDeathStep);
                try
                {
                    var written = await blobs.WriteJsonAsync(key, started, ServiceJson.Options,
                        current is null ? BlobWriteCondition.IfNoneExists : BlobWriteCondition.IfMatch(current.Info.ETag), cancellationToken).ConfigureAwait(false);
                    return (new TrainingAttempt(this, runId, key, started, written.ETag), null);
                }
                catch (BlobConditionFailedException) when (race < MaxStartRaces)
                {
                    // Another trainer wrote the record between the read and the write: read it again.
                }
            }
        }, cancellationToken);
    }

    internal IBlobStore Blobs => blobs;

    internal ILogger Logger => logger;

    internal void Ended(Guid runId, Guid attemptId) => _endedHere[runId] = attemptId;

    private TrainingAttemptsRecord Parse(string key, BlobContent content)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingAttemptsRecord>(content.Content.Span, ServiceJson.Options)
                   ?? throw new InvalidDataException($"Blob '{key}' in {blobs.Location} holds JSON null, not a {nameof(TrainingAttemptsRecord)}.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Blob '{key}' in {blobs.Location} is not valid JSON for {nameof(TrainingAttemptsRecord)}: {e.Message}", e);
        }
    }
}

/// <summary>
/// One attempt on a run, as recorded by <see cref="TrainingAttempts.StartAsync"/>: its steps, its progress and its end
/// are written to the run's record while the record still shows it as the latest attempt (a trainer that took the run
/// since has written its own, which this one leaves alone).
/// </summary>
public sealed class TrainingAttempt
{
    private readonly TrainingAttempts _attempts;
    private readonly string _key;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private TrainingAttemptsRecord _record;
    private string _etag;
    private bool _superseded;

    internal TrainingAttempt(TrainingAttempts attempts, Guid runId, string key, TrainingAttemptsRecord record, string etag)
    {
        _attempts = attempts;
        RunId = runId;
        _key = key;
        _record = record;
        _etag = etag;
    }

    public Guid RunId { get; }

    public Guid Id => _record.Last!.Id;

    /// <summary>What the attempt is doing now (named in the run's failure reason if its process dies during it).</summary>
    /// <exception cref="TrainingStepException">The record could not be written.</exception>
    public Task RecordStepAsync(string step, CancellationToken cancellationToken) =>
        UpdateAsync(record => record with { Last = record.Last! with { Step = step } }, cancellationToken);

    /// <summary>An epoch is stored (the run moved on): earlier deaths no longer count. <paramref name="step"/> is what comes next.</summary>
    /// <exception cref="TrainingStepException">The record could not be written.</exception>
    public Task RecordProgressAsync(string step, CancellationToken cancellationToken) =>
        UpdateAsync(record => record with { Deaths = 0, Last = record.Last! with { Step = step } }, cancellationToken);

    /// <summary>
    /// The attempt ended, alive: it is not to be counted as a death. Never throws; when storage refuses, this process still
    /// remembers it (<see cref="TrainingAttempts"/>).
    /// </summary>
    public async Task EndAsync(string outcome)
    {
        _attempts.Ended(RunId, Id);
        try
        {
            await UpdateAsync(record => record with { Last = record.Last! with { EndedAt = DateTimeOffset.UtcNow, Outcome = outcome } }, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (TrainingStepException e)
        {
            _attempts.Logger.LogWarning(e, "Run {RunId}: could not record the end of attempt {AttemptId} ({Outcome}).", RunId, Id, outcome);
        }
    }

    private async Task UpdateAsync(Func<TrainingAttemptsRecord, TrainingAttemptsRecord> change, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_superseded) return;
            var next = change(_record);
            await TrainingStep.RunAsync($"updating the training attempt in '{_key}'", async () =>
            {
                try
                {
                    _etag = (await _attempts.Blobs.WriteJsonAsync(_key, next, ServiceJson.Options, BlobWriteCondition.IfMatch(_etag), cancellationToken)
                        .ConfigureAwait(false)).ETag;
                    _record = next;
                }
                catch (BlobConditionFailedException)
                {
                    // Only a trainer that took the run since writes the record: the run's latest attempt is its own now.
                    _superseded = true;
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }
}
