using CremaD.Contracts;
using MassTransit;

namespace CremaD.Training.Service;

/// <summary>
/// Queue <c>training-stop</c>: <see cref="RunCancelled"/> and <see cref="RunFailed"/>, whoever published them. The run is
/// recorded as stopped (<see cref="TrainingStops"/>): its training stops, here at once, on another trainer after its
/// epoch in progress, and its request is dropped without training. One queue shared by the trainers: the record is
/// durable, so one of them writing it is enough.
/// </summary>
public sealed class TrainingStopConsumer(TrainingStops stops, TrainingWorkSignal signal) : IConsumer<RunCancelled>, IConsumer<RunFailed>
{
    public Task Consume(ConsumeContext<RunCancelled> context) =>
        StopAsync(new TrainingStop(context.Message.RunId, $"cancelled: {context.Message.Reason ?? "no reason given"}", context.Message.Timestamp),
            context.CancellationToken);

    public Task Consume(ConsumeContext<RunFailed> context) =>
        StopAsync(new TrainingStop(context.Message.RunId, $"failed: {context.Message.Reason}", context.Message.Timestamp), context.CancellationToken);

    private async Task StopAsync(TrainingStop stop, CancellationToken cancellationToken)
    {
        await stops.StopAsync(stop, cancellationToken).ConfigureAwait(false);
        // A request still waiting is dropped at the next pass: now rather than at the next poll.
        signal.Notify();
    }
}
