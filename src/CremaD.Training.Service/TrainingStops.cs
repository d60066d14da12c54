using System.Collections.Concurrent;
using CremaD.Contracts;
using CremaD.Storage;

namespace CremaD.Training.Service;

/// <summary>
/// The runs the trainer must not train, learnt from <see cref="RunCancelled"/> and <see cref="RunFailed"/>
/// (<see cref="TrainingStopConsumer"/>): a durable record per run (<see cref="BlobLayout.TrainingStopKey"/>), which
/// every trainer reads before it trains a request and after every epoch, so the run stops whichever trainer has it,
/// and a request that arrives late is dropped; and the trainings of this process, which a stop cancels at once.
/// </summary>
public sealed class TrainingStops(IBlobStore blobs)
{
    private readonly ConcurrentDictionary<CancellationTokenSource, Guid> _running = new();

    /// <summary>Records that the run is stopped, then cancels its training if this process is running it.</summary>
    public async Task StopAsync(TrainingStop stop, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stop);
        try
        {
            await blobs.WriteJsonAsync(BlobLayout.TrainingStopKey(stop.RunId), stop, ServiceJson.Options, BlobWriteCondition.IfNoneExists,
                cancellationToken).ConfigureAwait(false);
        }
        catch (BlobConditionFailedException)
        {
            // Stopped already (a redelivery, or the run failed after it was cancelled): the first record stands.
        }
        foreach (var (job, runId) in _running)
        {
            if (runId != stop.RunId) continue;
            try
            {
                await job.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // The training ended meanwhile.
            }
        }
    }

    /// <summary>The run's stop record, or null while it may be trained.</summary>
    public async Task<TrainingStop?> FindAsync(Guid runId, CancellationToken cancellationToken)
    {
        try
        {
            return await blobs.ReadJsonAsync<TrainingStop>(BlobLayout.TrainingStopKey(runId), ServiceJson.Options, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (BlobNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Cancels <paramref name="job"/> when the run is stopped, until disposed.</summary>
    public IDisposable Watch(Guid runId, CancellationTokenSource job)
    {
        _running[job] = runId;
        return new Watching(this, job);
    }

    private sealed class Watching(TrainingStops stops, CancellationTokenSource job) : IDisposable
    {
        public void Dispose() => stops._running.TryRemove(job, out _);
    }
}
