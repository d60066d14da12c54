using System.Collections.Concurrent;
using System.Globalization;
using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.Runs;

/// <summary>
/// Settings of <see cref="RunReconciler"/> (section <c>Reconciler</c>).
/// </summary>
/// <param name="Interval">How often the runs in flight are looked at.</param>
/// <param name="StallAfter">A run whose status has not changed for this long is re-driven.</param>
/// <param name="MaxBackoff">Re-drives of a run that still does not move are spaced out, doubling, up to this.</param>
public sealed record RunReconcilerOptions(TimeSpan Interval, TimeSpan StallAfter, TimeSpan MaxBackoff)
{
    public const string SectionName = "Reconciler";

    public static RunReconcilerOptions Default { get; } = new(TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30));

    /// <summary>Reads the section (<c>Reconciler:Interval</c>, <c>:StallAfter</c>, <c>:MaxBackoff</c>, as time spans); errors name the setting.</summary>
    public static RunReconcilerOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        TimeSpan Read(string name, TimeSpan fallback)
        {
            var text = section[name];
            if (string.IsNullOrWhiteSpace(text)) return fallback;
            if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) || value < TimeSpan.FromMilliseconds(100) || value > TimeSpan.FromDays(1))
            {
                throw new InvalidOperationException($"Configuration '{SectionName}:{name}' is '{text}'; expected a time span from 00:00:00.1 to 1.00:00:00.");
            }
            return value;
        }
        return new RunReconcilerOptions(Read(nameof(Interval), Default.Interval), Read(nameof(StallAfter), Default.StallAfter),
            Read(nameof(MaxBackoff), Default.MaxBackoff));
    }
}

/// <summary>
/// Finds runs that stopped moving and moves them on, so that no lost message, dead process or outage strands a run. Every
/// <see cref="RunReconcilerOptions.Interval"/> it walks the runs in flight (<see cref="BlobLayout.RunsInFlightPrefix"/>);
/// one whose status has not changed for <see cref="RunReconcilerOptions.StallAfter"/> gets again what its folded status
/// says comes next: <see cref="SubmitRun"/> before its features are ready (the coordinator then plans it, sends the
/// shards that have not reported, or completes a store whose shards all did), and after that what
/// <see cref="RunCoordinator.ContinueAfterFeaturesAsync"/> sends. Every step it re-sends is idempotent, so a re-drive
/// of a run that was only slow costs a duplicate message, nothing else. A run that still does not move is re-driven
/// again after twice the wait, up to <see cref="RunReconcilerOptions.MaxBackoff"/>: an outage is waited out, never
/// turned into a failure (what cannot succeed fails through its command's fault or delivery limit). It also removes the
/// in-flight entries of finished runs whose removal failed. Any number of replicas may run it: they send duplicates.
/// </summary>
public sealed class RunReconciler(RunStateStore states, RunCoordinator coordinator, IBus bus, RunReconcilerOptions options, TimeProvider clock,
    ILogger<RunReconciler> logger) : BackgroundService
{
    /// <summary>An in-flight entry without a status is left this long (its status may be being written) before it goes.</summary>
    private static readonly TimeSpan OrphanEntryAge = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<Guid, Stall> _stalls = new();

    /// <param name="UpdatedAt">The status's time when the run was first seen stalled: a newer one is progress.</param>
    /// <param name="Redrives">Re-drives so far.</param>
    /// <param name="NextAt">No re-drive before this.</param>
    private sealed record Stall(DateTimeOffset UpdatedAt, int Redrives, DateTimeOffset NextAt);

    /// <summary>Re-drives so far, by run (for the logs and tests).</summary>
    public int RedrivesOf(Guid runId) => _stalls.TryGetValue(runId, out var stall) ? stall.Redrives : 0;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Interval, clock);
        do
        {
            try
            {
                // Every few seconds whether or not there is work: untraced, or it would fill the dashboard's traces.
                using (OpenTelemetry.SuppressInstrumentationScope.Begin())
                {
                    await ReconcileAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Reconciling the runs in flight failed (storage or the broker away?); trying again in {Interval}.", options.Interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One pass over the runs in flight; returns the runs it re-drove.</summary>
    public async Task<IReadOnlyList<Guid>> ReconcileAsync(CancellationToken cancellationToken)
    {
        var entries = new List<BlobInfo>();
        await foreach (var entry in states.Blobs.ListAsync(BlobLayout.RunsInFlightPrefix, cancellationToken).ConfigureAwait(false))
        {
            entries.Add(entry);
        }
        var now = clock.GetUtcNow();
        var redriven = new List<Guid>();
        var seen = new HashSet<Guid>();
        foreach (var entry in entries)
        {
            if (BlobLayout.RunIdOfInFlightKey(entry.Key) is not { } runId || !seen.Add(runId)) continue;
            var status = await states.GetAsync(runId, cancellationToken).ConfigureAwait(false);
            if (status is null)
            {
                if (now - entry.LastModified > OrphanEntryAge) await states.Blobs.DeleteAsync(entry.Key, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (status.Stage.IsTerminal())
            {
                await states.ForgetInFlightAsync(status, cancellationToken).ConfigureAwait(false);
                _stalls.TryRemove(runId, out _);
                continue;
            }
            if (await RedriveIfStalledAsync(status, now, cancellationToken).ConfigureAwait(false)) redriven.Add(runId);
        }
        foreach (var gone in _stalls.Keys.Where(id => !seen.Contains(id))) _stalls.TryRemove(gone, out _);
        return redriven;
    }

    private async Task<bool> RedriveIfStalledAsync(RunStatus status, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var runId = status.RunId;
        if (now - status.Timestamps.UpdatedAt < options.StallAfter)
        {
            _stalls.TryRemove(runId, out _);
            return false;
        }
        var stall = _stalls.TryGetValue(runId, out var known) && known.UpdatedAt == status.Timestamps.UpdatedAt ? known : new Stall(status.Timestamps.UpdatedAt, 0, now);
        if (now < stall.NextAt) return false;

        var step = status.Features.Ready ? "the step after the features" : "SubmitRun";
        logger.LogWarning("Run {RunId} has not moved since {UpdatedAt:o} ({Stage}); re-driving it ({Step}, re-drive {Count}).", runId,
            status.Timestamps.UpdatedAt, status.Stage, step, stall.Redrives + 1);
        if (!status.Features.Ready)
        {
            var endpoint = await bus.GetSendEndpoint(new Uri($"queue:{QueueNames.SubmitRun}")).ConfigureAwait(false);
            await endpoint.Send(new SubmitRun(runId, status.Dataset, status.Config, status.Timestamps.SubmittedAt, status.Name, status.Submitter),
                cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await coordinator.ContinueAfterFeaturesAsync(status, bus, bus, cancellationToken).ConfigureAwait(false);
        }
        var wait = TimeSpan.FromTicks(Math.Min(options.MaxBackoff.Ticks, options.StallAfter.Ticks * (1L << Math.Min(stall.Redrives, 20))));
        _stalls[runId] = stall with { Redrives = stall.Redrives + 1, NextAt = now + wait };
        return true;
    }
}
