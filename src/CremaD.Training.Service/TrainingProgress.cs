using System.Diagnostics;
using CremaD.Contracts;
using CremaD.Learning;
using CremaD.Telemetry;
using MassTransit;
using ContractEpoch = CremaD.Contracts.EpochProgress;
using ContractTrainingStarted = CremaD.Contracts.TrainingStarted;

namespace CremaD.Training.Service;

/// <summary>
/// What a distributed training does between epochs, on the training thread: an <c>epoch</c> span and the epoch's
/// metrics, the checkpoint to blob storage (in the background: <see cref="ModelUploads"/>), progress published (<see cref="ContractTrainingStarted"/>,
/// <see cref="TrainingEpochCompleted"/>), the run's retry back-off reset (it is moving), and a look at whether the run
/// was stopped meanwhile, which ends the training after this epoch.
/// </summary>
/// <remarks>
/// A storage or broker failure in a callback surfaces as <see cref="TrainingStepException"/>: the attempt is retried, the
/// run not failed. A commit refused because another trainer took the run surfaces as <see cref="TrainingFencedException"/>:
/// this training stops.
/// </remarks>
public sealed class TrainingProgress(IBus bus, ModelUploads uploads, TrainingStops stops, TrainingFailureLedger failures, string requestKey,
    Guid runId, int maxEpochs, ActivityContext parent, CancellationTokenSource job, string worker) : ITrainingObserver
{
    private readonly CancellationToken cancellationToken = job.Token;

    public void OnTrainingStarted(Learning.TrainingStarted started) => Step("publishing TrainingStarted", () =>
        bus.Publish(new ContractTrainingStarted(runId, started.Device, maxEpochs, Math.Clamp(started.FirstEpoch, 1, maxEpochs),
            started.TrainClips, started.ValidationClips, DateTimeOffset.UtcNow, worker), cancellationToken));

    public void OnEpochCompleted(Learning.EpochProgress progress)
    {
        var record = progress.Record;
        var ended = DateTimeOffset.UtcNow;
        using (var epoch = CremaDTelemetry.Training.StartActivity("epoch", ActivityKind.Internal, parent,
                   startTime: ended - TimeSpan.FromSeconds(record.Seconds)))
        {
            epoch?.SetTag(CremaDTelemetry.RunIdTag, runId.ToString("D"));
            epoch?.SetTag(CremaDTelemetry.EpochTag, record.Epoch);
            epoch?.SetTag("cremad.train_loss", record.TrainLoss);
            epoch?.SetTag("cremad.train_accuracy", record.TrainAccuracy);
            epoch?.SetTag("cremad.validation_loss", record.ValidationLoss);
            epoch?.SetTag("cremad.validation_accuracy", record.ValidationAccuracy);
            epoch?.SetTag("cremad.learning_rate", record.LearningRate);
        }
        TrainingMetrics.RecordEpoch(runId, record);
        // The upload overlaps the next epoch; a failure of the previous epoch's upload surfaces here.
        Step($"uploading the model after epoch {record.Epoch}", () =>
        {
            uploads.QueueEpoch(record.Epoch, cancellationToken);
            return Task.CompletedTask;
        });
        failures.Forget(requestKey);
        var epochProgress = new ContractEpoch(record.Epoch, record.TrainLoss, record.TrainAccuracy, record.ValidationLoss,
            record.ValidationAccuracy, record.LearningRate, record.Seconds, progress.BestEpoch, Math.Clamp(progress.BestValidationAccuracy, 0, 1));
        Step($"publishing the progress of epoch {record.Epoch}",
            () => bus.Publish(new TrainingEpochCompleted(runId, epochProgress, maxEpochs, DateTimeOffset.UtcNow), cancellationToken));

        // A run cancelled or failed meanwhile, heard of by another trainer, is not trained further; the job then drops its request.
        if (!progress.Stopping)
        {
            TrainingStop? stop = null;
            Step($"reading '{BlobLayout.TrainingStopKey(runId)}'", async () => stop = await stops.FindAsync(runId, cancellationToken).ConfigureAwait(false));
            if (stop is not null) job.Cancel();
        }
    }

    private void Step(string step, Func<Task> action) => TrainingStep.RunAsync(step, action, cancellationToken).GetAwaiter().GetResult();
}
