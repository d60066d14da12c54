using System.Diagnostics;
using CremaD.Contracts;
using CremaD.Storage;
using MassTransit;

namespace CremaD.Training.Service;

/// <summary>
/// Queue <c>train-model</c> (<see cref="QueueNames.TrainModel"/>): records the request durably and acknowledges at once.
/// The training itself runs in <see cref="TrainingWorker"/>, under a blob lease, so no broker delivery is held for the
/// hours a training can take (and a consumer timeout cannot redeliver it to a second trainer midway).
/// </summary>
public sealed class TrainModelConsumer(IBlobStore blobs, TrainingWorkSignal signal) : IConsumer<TrainModel>
{
    public async Task Consume(ConsumeContext<TrainModel> context)
    {
        var command = context.Message.ThrowIfInvalid();
        var request = new TrainingRequest(command, Activity.Current?.Id, DateTimeOffset.UtcNow);
        try
        {
            await blobs.WriteJsonAsync(BlobLayout.TrainingRequestKey(command.RunId), request, ServiceJson.Options, BlobWriteCondition.IfNoneExists,
                context.CancellationToken).ConfigureAwait(false);
        }
        catch (BlobConditionFailedException)
        {
            // A redelivered or duplicate command: the run is already in the work list.
        }
        signal.Notify();
    }
}
