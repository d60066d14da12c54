using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CremaD.Training.Service;

/// <summary>The trainer service's background worker: polls the work list (and wakes on local requests) and trains.</summary>
public sealed class TrainingWorker(TrainingJobs jobs, TrainingWorkSignal signal, TrainerOptions options, ILogger<TrainingWorker> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await jobs.RunPendingAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The work list could not be read (storage unavailable): nothing to attribute to a run, so look again at the
                // next poll. A failed attempt on one run is counted, and bounded, by TrainingJobs.
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
