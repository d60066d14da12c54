using CremaD.Contracts;
using MassTransit;

namespace CremaD.Runs;

/// <summary>Queue <c>cancel-run</c> (<see cref="QueueNames.CancelRun"/>): cancels runs.</summary>
public sealed class CancelRunConsumer(RunCoordinator coordinator) : IConsumer<CancelRun>
{
    public Task Consume(ConsumeContext<CancelRun> context) => coordinator.CancelAsync(context.Message.ThrowIfInvalid(), context);
}
