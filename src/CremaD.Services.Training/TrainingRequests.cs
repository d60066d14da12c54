using System.Diagnostics;
using CremaD.Contracts;
using CremaD.Services;
using CremaD.Storage;
using MassTransit;

namespace CremaD.Services.Training;

/// <summary>
/// A training a trainer is to do: the command, and the trace it belongs to (the worker that picks it up later
/// continues that trace). Stored at <see cref="TrainingRequests.RequestKey"/> until the training is done.
/// </summary>
/// <param name="TraceParent">W3C traceparent of the span that consumed the command, when traced.</param>
public sealed record TrainingRequest(TrainModel Command, string? TraceParent, DateTimeOffset RequestedAt);

/// <summary>Blob keys of the trainer's durable work list.</summary>
public static class TrainingRequests
{
    /// <summary>Folder of pending training requests, one blob per run: what trainer workers poll.</summary>
    public const string RequestsPrefix = "work/training/";

    public static string RequestKey(Guid runId) => $"{RequestsPrefix}{runId:N}.json";

    /// <summary>The run a request key is for, or null when the key is not one <see cref="RequestKey"/> makes.</summary>
    public static Guid? RunIdOf(string requestKey)
    {
        ArgumentNullException.ThrowIfNull(requestKey);
        if (!requestKey.StartsWith(RequestsPrefix, StringComparison.Ordinal) || !requestKey.EndsWith(".json", StringComparison.Ordinal)) return null;
        return Guid.TryParseExact(requestKey[RequestsPrefix.Length..^".json".Length], "N", out var runId) ? runId : null;
    }

    /// <summary>The lock a trainer holds (renewing it) while it trains a run.</summary>
    public static string LeaseKey(Guid runId) => BlobLayout.RunPrefix(runId) + "trainer.lease";

    /// <summary>The <see cref="TrainingCompleted"/> of a finished training, written before it is published.</summary>
    public static string ResultKey(string modelPrefix) => modelPrefix + "training-result.json";

    /// <summary>Where the trained model goes for a TrainModel command.</summary>
    public static string ModelPrefix(TrainModel command) => command.OutputPrefix + RunCoordinator.ModelFolder;
}

/// <summary>Wakes the local training worker when a request arrives, so it need not wait for its next poll.</summary>
public sealed class TrainingWorkSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }
    }

    /// <summary>Waits for a signal or <paramref name="timeout"/>.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}

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
            await blobs.WriteJsonAsync(TrainingRequests.RequestKey(command.RunId), request, ServiceJson.Options, BlobWriteCondition.IfNoneExists,
                context.CancellationToken).ConfigureAwait(false);
        }
        catch (BlobConditionFailedException)
        {
            // A redelivered or duplicate command: the run is already in the work list.
        }
        signal.Notify();
    }
}
