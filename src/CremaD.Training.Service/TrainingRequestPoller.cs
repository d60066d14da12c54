using CremaD.Contracts;
using CremaD.Storage;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>
/// Goes through the durable work list (<see cref="BlobLayout.TrainingRequestsPrefix"/>) and trains what is this
/// worker's to train, one run at a time: a request whose run is stopped is dropped, one another trainer holds (its
/// lease) is left to it, and one whose attempt fails on storage or the broker is retried after a back-off
/// (<see cref="TrainingFailureLedger"/>), for as long as that lasts, without holding up the others.
/// <see cref="TrainingWorker"/> runs a pass at every poll and whenever a request arrives locally.
/// </summary>
public sealed class TrainingRequestPoller(IBlobStore blobs, TrainingStops stops, TrainingFailureLedger failures, TrainingJob job,
    TrainerOptions options, ILogger<TrainingRequestPoller> logger)
{
    /// <summary>Looks at every pending request once; returns how many trainings this worker ran to the end.</summary>
    public async Task<int> RunPendingAsync(CancellationToken cancellationToken)
    {
        var keys = new List<string>();
        // The poll runs every few seconds whether or not there is work: untraced, or it would fill the dashboard's traces.
        using (OpenTelemetry.SuppressInstrumentationScope.Begin())
        {
            await foreach (var blob in blobs.ListAsync(BlobLayout.TrainingRequestsPrefix, cancellationToken).ConfigureAwait(false))
            {
                keys.Add(blob.Key);
            }
        }
        failures.KeepOnly(keys);

        var done = 0;
        foreach (var key in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!failures.MayAttempt(key)) continue;
            try
            {
                if (await TryRunAsync(key, cancellationToken).ConfigureAwait(false)) done++;
            }
            catch (TrainingStepException e)
            {
                failures.RecordFailure(key, e);
            }
        }
        return done;
    }

    /// <summary>Trains the run of one request if no other trainer holds it; false when it was not this worker's to do.</summary>
    /// <exception cref="TrainingStepException">A storage or broker call failed; the request stays for another attempt.</exception>
    public async Task<bool> TryRunAsync(string requestKey, CancellationToken cancellationToken)
    {
        var request = await TrainingStep.RunAsync($"reading the training request '{requestKey}'", async () =>
        {
            try
            {
                return await blobs.ReadJsonAsync<TrainingRequest>(requestKey, ServiceJson.Options, cancellationToken).ConfigureAwait(false);
            }
            catch (BlobNotFoundException)
            {
                return null; // finished by another trainer meanwhile
            }
        }, cancellationToken).ConfigureAwait(false);
        if (request is null)
        {
            failures.Forget(requestKey);
            return false;
        }
        var runId = request.Command.RunId;
        var stop = await TrainingStep.RunAsync($"reading '{BlobLayout.TrainingStopKey(runId)}'", () => stops.FindAsync(runId, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        if (stop is not null)
        {
            logger.LogInformation("Run {RunId} was {Reason}; its training request is dropped.", runId, stop.Reason);
            await TrainingStep.DeleteRequestAsync(blobs, requestKey, cancellationToken).ConfigureAwait(false);
            failures.Forget(requestKey);
            return false;
        }

        var leaseKey = BlobLayout.TrainerLeaseKey(runId);
        var lease = await TrainingStep.RunAsync($"taking the lease on '{leaseKey}'",
            () => blobs.TryAcquireLeaseAsync(leaseKey, options.LeaseDuration, cancellationToken), cancellationToken).ConfigureAwait(false);
        if (lease is null) return false;
        await using (lease.ConfigureAwait(false))
        {
            // Listed before the lease was ours: another trainer may have finished the run in between.
            if (!await TrainingStep.RunAsync($"checking the training request '{requestKey}'", () => blobs.ExistsAsync(requestKey, cancellationToken),
                    cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
            if (!await job.RunAsync(requestKey, request, lease, cancellationToken).ConfigureAwait(false)) return false;
            failures.Forget(requestKey);
            return true;
        }
    }
}
