using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>
/// The trainer service's background worker: a pass over the work list (<see cref="TrainingRequestPoller"/>) at every
/// poll, and as soon as a request arrives or a run stops locally (<see cref="TrainingWorkSignal"/>).
/// </summary>
public sealed class TrainingWorker(TrainingRequestPoller poller, TrainingWorkSignal signal, TrainerOptions options, ILogger<TrainingWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // LibTorch loaded now, while idle, rather than in the first run's training time.
        await Task.Run(Learning.ComputeDevice.WarmUp, stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await poller.RunPendingAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The work list could not be read (storage unavailable): nothing to attribute to a run, so look again at the
                // next poll. A failed attempt on one run is retried after its back-off (TrainingFailureLedger).
                logger.LogWarning(e, "Training pass failed; retrying in {Interval}.", options.PollInterval);
            }
            try
            {
                await signal.WaitAsync(options.PollInterval, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
