using CremaD.Storage;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>
/// Keeps a trainer's lease on a run while it trains: renews it every third of its duration, and cancels the training
/// when it cannot, before the lease expires and another trainer takes the run. Started with the training, stopped
/// (<see cref="StopAsync"/>) when it ends.
/// </summary>
public sealed class TrainingLeaseKeeper : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<Exception?> _renewing;

    /// <param name="job">Cancelled when the lease cannot be kept.</param>
    public TrainingLeaseKeeper(IBlobLease lease, CancellationTokenSource job, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(logger);
        _renewing = RenewAsync(lease, job, logger, _stop.Token);
    }

    /// <summary>
    /// Stops the renewals. Returns the storage error that stopped them early (null when they ran until now, or when the
    /// lease was lost to another trainer, which is not a failure of this run).
    /// </summary>
    public async Task<Exception?> StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        return await _renewing.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private static async Task<Exception?> RenewAsync(IBlobLease lease, CancellationTokenSource job, ILogger logger, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(lease.Duration / 3, stop).ConfigureAwait(false);
                await lease.RenewAsync(stop).ConfigureAwait(false);
            }
            return null;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return null;
        }
        catch (BlobLeaseLostException e)
        {
            // Another trainer owns the run now; this one must not write over its checkpoints.
            logger.LogWarning(e, "Lost the lease on {Key}; stopping this training.", lease.Key);
            await job.CancelAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not renew the lease on {Key}; stopping this training before it expires.", lease.Key);
            await job.CancelAsync().ConfigureAwait(false);
            return e;
        }
    }
}
